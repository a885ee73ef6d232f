// The files a fine-tune publishes, each verified before it is published, like `ownlm export`:
//   LoRA  <out>/adapter/ (PEFT) read back equal to the trained tensors, bit for bit;
//         <out>/adapter.gguf (GGUF LoRA) applied by llama.cpp on the base GGUF gives the engine-with-adapter's
//         greedy tokens (and tokenization) on the golden and scenario prompts, with export's near-tie rule;
//         <out>/base.gguf, the f32 base the adapter is served on, when the base was not a GGUF already.
//   merge <out>/merged/ (Hugging Face folder) and <out>/merged.gguf through the exporter, which verifies both
//         (a full fine-tune always writes these: its result is a whole model).
// A check that fails throws, and the file is left unpublished (written under a temporary name, renamed last).
import { existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { LlamaModel, LoraAdapter } from '@ownlm/engine';
import { FormatError } from '../formats/errors.ts';
import { GgmlType, readGgufHeader } from '../formats/gguf.ts';
import type { GgufDtype } from '../formats/gguf-llama.ts';
import { writeGgufLoraAdapter } from '../formats/gguf-lora.ts';
import { readPeftAdapter, writePeftAdapter } from '../formats/peft-adapter.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { exportLoadedModel, verifyGguf, type PromptCheck } from '../train/export.ts';
import type { ArtifactKind } from './finetune.ts';
import type { FinetuneConfig } from './finetune-config.ts';

export interface FinetuneOutputs {
  /** PEFT adapter folder (LoRA runs). */
  peftAdapter: string | null;
  /** GGUF LoRA adapter (LoRA runs). */
  adapterGguf: string | null;
  /** The GGUF the adapter is served on (LoRA runs): `<out>/base.gguf` or the GGUF the run started from. */
  baseGguf: string | null;
  merged: string | null;
  mergedGguf: string | null;
  /** The llama.cpp comparison of the adapter, prompt by prompt. */
  adapterChecks: PromptCheck[];
}

/** Writes the verified f32 GGUF of the base model (kept when a resumed run already wrote it); returns its path. */
export async function writeBaseGguf(
  model: LlamaModel,
  tokenizer: Tokenizer,
  baseDir: string,
  path: string,
): Promise<string> {
  if (!existsSync(path))
    await exportLoadedModel(model, tokenizer, baseDir, {
      model: baseDir,
      out: path,
      format: 'gguf',
      dtype: 'f32',
      name: basename(resolve(baseDir)),
    });
  return path;
}

/** The coarsest weight type in a GGUF, which sets how far llama.cpp's rounding may move logits. */
function ggufDtype(path: string): GgufDtype {
  const types = new Set(readGgufHeader(path).tensors.map((t) => t.type));
  if (types.has(GgmlType.Q4_0)) return 'q4_0';
  if (types.has(GgmlType.Q8_0)) return 'q8_0';
  if (types.has(GgmlType.BF16)) return 'bf16';
  if (types.has(GgmlType.F16)) return 'f16';
  return 'f32';
}

/** Publishes `temp` as `target` (replacing an older one from an earlier attempt of the same run). */
function publish(temp: string, target: string): void {
  rmSync(target, { recursive: true, force: true });
  renameSync(temp, target);
}

function temporary(target: string): string {
  const temp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  return temp;
}

/** The PEFT folder read back must hold exactly the adapter's tensors. */
function verifyPeft(dir: string, adapter: LoraAdapter, model: LlamaModel, target: string): void {
  const back = readPeftAdapter(dir, model.config);
  const fail = (field: string, detail: string) =>
    new FormatError('verification-failed', target, field, detail);
  if (back.tensors.size !== adapter.parameters.size)
    throw fail(
      'adapter_model.safetensors',
      `${back.tensors.size} tensors, the adapter has ${adapter.parameters.size}`,
    );
  for (const [name, parameter] of adapter.parameters) {
    const read = back.tensors.get(name);
    if (!read) throw fail(`tensor "${name}"`, 'is missing');
    const at = parameter.data.findIndex((v, i) => !Object.is(v, read.data[i]));
    if (at >= 0)
      throw fail(
        `tensor "${name}"`,
        `value ${at} reads back as ${read.data[at]}, expected ${parameter.data[at]}`,
      );
  }
  const o = back.options;
  const expected = adapter.options;
  for (const key of ['rank', 'alpha', 'rslora'] as const)
    if (o[key] !== expected[key])
      throw fail(`adapter_config.json ${key}`, `reads back as ${o[key]}, trained with ${expected[key]}`);
  if (JSON.stringify(o.targets) !== JSON.stringify(expected.targets))
    throw fail(
      'adapter_config.json target_modules',
      `reads back as ${o.targets}, trained with ${expected.targets}`,
    );
}

export interface WriteOutputsInput {
  config: FinetuneConfig;
  runDir: string;
  /** The tuned model (with the adapter attached for LoRA). */
  model: LlamaModel;
  adapter: LoraAdapter | null;
  tokenizer: Tokenizer;
  /** The base model folder (its tokenizer files go into every output). */
  baseDir: string;
  baseGguf: string | null;
  /** Prompts the adapter is checked on in llama.cpp besides export's golden prompts. */
  prompts: string[];
  onArtifact: (kind: ArtifactKind, path: string) => void;
}

export async function writeFinetuneOutputs(input: WriteOutputsInput): Promise<FinetuneOutputs> {
  const { config, runDir, model, adapter, tokenizer, baseDir } = input;
  const outputs: FinetuneOutputs = {
    peftAdapter: null,
    adapterGguf: null,
    baseGguf: input.baseGguf,
    merged: null,
    mergedGguf: null,
    adapterChecks: [],
  };
  if (adapter) {
    if (!input.baseGguf) throw new Error('writeFinetuneOutputs: a LoRA run needs the base GGUF');
    const peft = join(runDir, 'adapter');
    const peftTemp = temporary(peft);
    const gguf = join(runDir, 'adapter.gguf');
    const ggufTemp = temporary(gguf);
    try {
      writePeftAdapter(peftTemp, adapter, { baseModel: resolve(config.base) });
      verifyPeft(peftTemp, adapter, model, peft);
      writeGgufLoraAdapter(ggufTemp, adapter, model.config, { name: basename(runDir) });
      const checked = await verifyGguf(input.baseGguf, model, tokenizer, {
        model: baseDir,
        out: gguf,
        format: 'gguf',
        dtype: ggufDtype(input.baseGguf),
        prompts: input.prompts,
        lora: ggufTemp,
      });
      outputs.adapterChecks = checked.prompts;
      publish(peftTemp, peft);
      publish(ggufTemp, gguf);
    } finally {
      rmSync(peftTemp, { recursive: true, force: true });
      rmSync(ggufTemp, { force: true });
    }
    outputs.peftAdapter = peft;
    outputs.adapterGguf = gguf;
    input.onArtifact('peft-adapter', peft);
    input.onArtifact('gguf-adapter', gguf);
  }
  if (config.merge || !adapter) {
    // Merging folds the adapter into the base weights (W += scaling·B@A); the run's model is done with.
    if (adapter) model.mergeLora();
    const merged = join(runDir, 'merged');
    const mergedGguf = join(runDir, 'merged.gguf');
    const name = basename(runDir);
    await exportLoadedModel(model, tokenizer, baseDir, {
      model: baseDir,
      out: merged,
      format: 'hf',
      dtype: 'f32',
      overwrite: true,
    });
    input.onArtifact('merged-hf', merged);
    await exportLoadedModel(model, tokenizer, baseDir, {
      model: baseDir,
      out: mergedGguf,
      format: 'gguf',
      dtype: 'f32',
      overwrite: true,
      name,
      prompts: input.prompts,
    });
    input.onArtifact('merged-gguf', mergedGguf);
    outputs.merged = merged;
    outputs.mergedGguf = mergedGguf;
  }
  return outputs;
}
