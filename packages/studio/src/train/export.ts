// `ownlm export`: a model folder to a GGUF llama.cpp runs unchanged, or to a Hugging Face folder, verified
// before it is published. A GGUF is first read back by ownlm's own parser: its config must equal the model's
// and every tensor must equal the model's rounded to its type (so names, shapes, the Q/K permutation and the
// metadata are checked exactly). Then llama.cpp must tokenize the golden texts exactly as ownlm does and
// continue each golden prompt greedily with the tokens the engine gives on the file's weights (32 tokens for
// F32/F16/BF16, the first 8 for Q8_0/Q4_0, where llama.cpp also rounds activations to 8 bits). A difference
// refuses the export: nothing is written at the output path, and the error names the field, prompt or token.
//
// Near-ties: when both sides pick different tokens whose engine logits differ by less than the export's
// rounding can move them (a fraction of the logits' spread, per dtype), the divergence is reported and that
// prompt's comparison ends there, instead of failing the export over which of two equal tokens came first.
// Real conversion errors (a wrong permutation, a wrong hyperparameter) move logits by far more.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { generateTokens, type LlamaConfig, type LlamaModel } from '@ownlm/engine';
import { FormatError } from '../formats/errors.ts';
import { GgmlType, readGgufHeader } from '../formats/gguf.ts';
import {
  GGUF_DTYPES,
  hfTensorName,
  readLlamaGguf,
  writeLlamaGguf,
  type GgufDtype,
  type HfTensor,
} from '../formats/gguf-llama.ts';
import { HF_DTYPES, readHfWeights, writeHfFolder, type HfDtype } from '../formats/hf-folder.ts';
import { openLlamaCpp } from '../formats/llama-cpp.ts';
import {
  decodeBf16,
  decodeF16,
  dequantizeQ4_0,
  dequantizeQ8_0,
  encodeBf16,
  encodeF16,
  quantizeQ4_0,
  quantizeQ8_0,
} from '../formats/quant.ts';
import { finishOutput } from '../tokenizer/publish.ts';
import { generateTestStrings } from '../tokenizer/test-strings.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { loadModelFolder } from './import.ts';

export type ExportFormat = 'gguf' | 'hf';

/** Prompts every export is checked with (besides the caller's): plain prose, numbers, code and a chat turn. */
export const GOLDEN_PROMPTS = [
  'The',
  'Once upon a time, there was a',
  'In 1999, the population of the city',
  'def main():\n    print(',
  '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n',
];

/** How far (in standard deviations of the logits) rounding may move a logit, per dtype. */
const TIE_TOLERANCE: Record<GgufDtype, number> = { f32: 1e-3, f16: 2e-2, bf16: 5e-2, q8_0: 5e-2, q4_0: 0.2 };

export interface ExportOptions {
  /** Model folder: `ownlm import` output, a training checkpoint or a Hugging Face Llama folder. */
  model: string;
  /** A .gguf file, or a folder for the hf format. */
  out: string;
  format: ExportFormat;
  dtype: GgufDtype | HfDtype;
  /** Check the result before publishing it (default true). */
  verify?: boolean;
  /** Golden prompts added to GOLDEN_PROMPTS. */
  prompts?: string[];
  /** Greedy tokens compared per prompt (default 32, or 8 for Q8_0/Q4_0). */
  tokens?: number;
  overwrite?: boolean;
  /** general.name of a GGUF (default: the model folder's name). */
  name?: string;
  /** verifyGguf: a GGUF LoRA adapter llama.cpp applies on the file (the engine model carries the same adapter). */
  lora?: string;
}

export interface PromptCheck {
  prompt: string;
  /** Greedy tokens compared; all equal unless nearTie is set. */
  compared: number;
  /** A divergence between two tokens whose logits the export's rounding can swap. */
  nearTie?: { at: number; engine: number; llamaCpp: number; gapInStd: number };
}

export interface ExportReport {
  out: string;
  bytes: number;
  writeSeconds: number;
  verifySeconds: number;
  /** Texts whose tokenization was compared (each with and without special-token parsing). */
  tokenizationTexts: number;
  prompts: PromptCheck[];
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

function checkOptions(options: ExportOptions): void {
  const dtypes: readonly string[] = options.format === 'gguf' ? GGUF_DTYPES : HF_DTYPES;
  if (options.format !== 'gguf' && options.format !== 'hf')
    throw new FormatError(
      'unsupported',
      options.out,
      'format',
      `${JSON.stringify(options.format)} (gguf or hf)`,
    );
  if (!dtypes.includes(options.dtype))
    throw new FormatError(
      'unsupported',
      options.out,
      'dtype',
      `${options.dtype} for ${options.format} (${dtypes.join(', ')})`,
    );
  if (existsSync(options.out) && !options.overwrite)
    throw new FormatError('output-exists', options.out, '', 'already exists; pass --force to replace it');
}

/** Exports the model folder `options.model`. */
export async function exportModel(options: ExportOptions): Promise<ExportReport> {
  checkOptions(options);
  const { model, tokenizer } = loadModelFolder(options.model);
  return exportLoadedModel(model, tokenizer, options.model, options);
}

/** Exports an engine model whose tokenizer files are in `tokenizerDir`. */
export async function exportLoadedModel(
  model: LlamaModel,
  tokenizer: Tokenizer,
  tokenizerDir: string,
  options: ExportOptions,
): Promise<ExportReport> {
  checkOptions(options);
  const tensors = new Map<string, HfTensor>(
    [...model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]),
  );
  const target = resolve(options.out);
  const temp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  try {
    let started = performance.now();
    if (options.format === 'gguf') {
      const name = options.name ?? basename(resolve(options.model));
      writeLlamaGguf(temp, {
        config: model.config,
        tensors,
        tokenizerDir,
        dtype: options.dtype as GgufDtype,
        name,
      });
    } else {
      writeHfFolder(temp, { config: model.config, tensors, tokenizerDir, dtype: options.dtype as HfDtype });
    }
    const writeSeconds = seconds(started);
    started = performance.now();
    let report = { tokenizationTexts: 0, prompts: [] as PromptCheck[] };
    if (options.verify ?? true) {
      report =
        options.format === 'gguf'
          ? await withWeights(model, readBackGguf(temp, model, options), () =>
              verifyGguf(temp, model, tokenizer, options),
            )
          : verifyHfFolder(temp, model, tokenizer, options);
    }
    const verifySeconds = seconds(started);
    const bytes =
      options.format === 'gguf'
        ? statSync(temp).size
        : readdirSync(temp).reduce((n, f) => n + statSync(join(temp, f)).size, 0);
    if (options.format === 'gguf') renameSync(temp, target);
    else finishOutput(temp, target);
    return { out: options.out, bytes, writeSeconds, verifySeconds, ...report };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

function describeToken(tokenizer: Tokenizer, id: number): string {
  const text = tokenizer.idToToken(id) === undefined ? '?' : tokenizer.decode([id]);
  return `${id} ${JSON.stringify(text)}`;
}

/** The values a tensor of this ggml type holds for `data` (what reading the file back must give). */
function rounded(data: Float32Array, type: number): Float32Array {
  switch (type) {
    case GgmlType.F32:
      return data;
    case GgmlType.F16:
      return decodeF16(encodeF16(data));
    case GgmlType.BF16:
      return decodeBf16(encodeBf16(data));
    case GgmlType.Q8_0:
      return dequantizeQ8_0(quantizeQ8_0(data), data.length);
    default:
      return dequantizeQ4_0(quantizeQ4_0(data), data.length);
  }
}

/**
 * Reads the GGUF back with ownlm's parser and checks it holds the model: the same config (floats compared as
 * float32, as stored) and every tensor equal to the model's rounded to its type. Returns the file's weights
 * by parameter name, which the engine runs as the reference llama.cpp is compared with.
 */
export function readBackGguf(
  path: string,
  model: LlamaModel,
  options: ExportOptions,
): Map<string, Float32Array> {
  const fail = (field: string, detail: string) =>
    new FormatError('verification-failed', options.out, field, detail);
  const read = readLlamaGguf(path);
  for (const [key, value] of Object.entries(model.config)) {
    const back = read.config[key as keyof LlamaConfig];
    const same =
      typeof value === 'number' ? Math.fround(value) === Math.fround(back as number) : value === back;
    if (!same) throw fail(`config ${key}`, `reads back as ${back}, the model has ${value}`);
  }
  const types = new Map(read.header.tensors.map((t) => [hfTensorName(t.name), t.type]));
  for (const [name, parameter] of model.parameters) {
    const expected = rounded(parameter.data, types.get(name)!);
    const actual = read.tensors.get(name)!.data;
    const at = expected.findIndex((v, i) => !Object.is(v, actual[i]));
    if (at >= 0)
      throw fail(`tensor "${name}"`, `value ${at} reads back as ${actual[at]}, expected ${expected[at]}`);
  }
  return new Map([...read.tensors].map(([name, t]) => [name, t.data]));
}

/** Runs `fn` with the model's parameters holding `weights` (no second model is built), then restores them. */
async function withWeights<T>(
  model: LlamaModel,
  weights: Map<string, Float32Array>,
  fn: () => Promise<T>,
): Promise<T> {
  const original = new Map([...model.parameters].map(([name, p]) => [name, p.data]));
  try {
    for (const [name, p] of model.parameters) p.data = weights.get(name)!;
    return await fn();
  } finally {
    for (const [name, p] of model.parameters) p.data = original.get(name)!;
  }
}

/**
 * Tokenization and greedy continuations of a GGUF in llama.cpp against ownlm's tokenizer and the engine
 * running `model` (the file's weights); throws a FormatError (verification-failed) naming the text or prompt
 * and the token on a real difference.
 */
export async function verifyGguf(
  path: string,
  model: LlamaModel,
  tokenizer: Tokenizer,
  options: ExportOptions,
): Promise<{ tokenizationTexts: number; prompts: PromptCheck[] }> {
  const dtype = options.dtype as GgufDtype;
  const fail = (field: string, detail: string) =>
    new FormatError('verification-failed', options.out, field, detail);
  readGgufHeader(path); // ownlm's hardened parser sees every file before llama.cpp does
  const context = model.config.max_position_embeddings;
  const prompts = [...GOLDEN_PROMPTS, ...(options.prompts ?? [])];
  const texts = [...prompts, ...generateTestStrings(100, 1)];
  const count = options.tokens ?? (dtype === 'q8_0' || dtype === 'q4_0' ? 8 : 32);
  const cpp = await openLlamaCpp(path, context, { lora: options.lora });
  try {
    for (const text of texts) {
      for (const parseSpecial of [true, false]) {
        const ours = [...tokenizer.encode(text, { parseSpecial })];
        const theirs = cpp.tokenize(text, parseSpecial);
        const at = ours.findIndex((id, i) => id !== theirs[i]);
        if (at >= 0 || ours.length !== theirs.length) {
          const k = at >= 0 ? at : Math.min(ours.length, theirs.length);
          throw fail(
            `tokenization of ${JSON.stringify(text.slice(0, 60))}${parseSpecial ? '' : ' (special tokens as text)'}`,
            `token ${k} is ${ours[k] ?? 'absent'} in ownlm but ${theirs[k] ?? 'absent'} in llama.cpp`,
          );
        }
      }
    }
    const checks: PromptCheck[] = [];
    for (const [index, prompt] of prompts.entries()) {
      const ids = tokenizer.encode(prompt);
      const n = Math.min(count, context - ids.length);
      if (ids.length === 0 || n <= 0) continue;
      const ours = [...generateTokens(model, ids, { temperature: 0, maxNewTokens: n })];
      const theirs = await cpp.greedy([...ids], n);
      const at = ours.findIndex((id, i) => id !== theirs[i]);
      if (at < 0) {
        checks.push({ prompt, compared: n });
        continue;
      }
      const logits = model.nextTokenLogits(Int32Array.from([...ids, ...ours.slice(0, at)]));
      const gapInStd = (logits[ours[at]] - logits[theirs[at]]) / standardDeviation(logits);
      if (!(gapInStd <= TIE_TOLERANCE[dtype])) {
        throw fail(
          `prompt ${index + 1} ${JSON.stringify(prompt.slice(0, 60))}`,
          `greedy token ${at} is ${describeToken(tokenizer, ours[at])} in the engine but ${describeToken(tokenizer, theirs[at])} in llama.cpp (logit gap ${gapInStd.toFixed(3)} standard deviations, more than ${dtype} rounding explains)`,
        );
      }
      checks.push({
        prompt,
        compared: at,
        nearTie: { at, engine: ours[at], llamaCpp: theirs[at], gapInStd },
      });
    }
    return { tokenizationTexts: texts.length, prompts: checks };
  } finally {
    await cpp.close();
  }
}

function standardDeviation(values: Float32Array): number {
  let mean = 0;
  for (const v of values) mean += v / values.length;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2 / values.length;
  return Math.sqrt(variance) || 1;
}

/** Reads the folder back: every tensor must equal the model's, rounded to the dtype, bit for bit. */
function verifyHfFolder(
  dir: string,
  model: LlamaModel,
  tokenizer: Tokenizer,
  options: ExportOptions,
): { tokenizationTexts: number; prompts: PromptCheck[] } {
  const loaded = loadModelFolder(dir);
  if (loaded.tokenizer.hash !== tokenizer.hash)
    throw new FormatError('verification-failed', options.out, 'tokenizer.json', 'differs from the source');
  const read = readHfWeights(dir, loaded.config);
  const type = { f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16 }[options.dtype as HfDtype];
  for (const [name, parameter] of model.parameters) {
    const expected = rounded(parameter.data, type);
    const actual = read.get(name)!.data;
    const at = expected.findIndex((v, i) => !Object.is(v, actual[i]));
    if (at >= 0)
      throw new FormatError(
        'verification-failed',
        options.out,
        `tensor "${name}"`,
        `value ${at} reads back as ${actual[at]}, expected ${expected[at]}`,
      );
  }
  return { tokenizationTexts: 0, prompts: [] };
}
