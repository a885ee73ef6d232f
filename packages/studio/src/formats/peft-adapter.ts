// PEFT LoRA adapters (docs/FORMATS.md#peft-adapters): adapter_config.json as PEFT writes it (sorted keys, 2-space
// indent) and adapter_model.safetensors (F32, metadata {"format":"pt"}) under PEFT's keys, which are the
// engine's LoraAdapter parameter names. The reader accepts what PEFT writes for the Llama projections and
// rejects, naming the file and the field, anything ownlm would otherwise load wrongly: other PEFT types, DoRA,
// per-module rank or alpha patterns, unknown tensors, wrong shapes, an A without its B.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LORA_TARGETS,
  loraKey,
  projectionShape,
  Tensor,
  type LlamaConfig,
  type LlamaModel,
  type LoraAdapter,
  type LoraOptions,
  type LoraTarget,
} from '@ownlm/engine';
import { FormatError, quoteValue } from './errors.ts';
import { sortedJson } from './hf-folder.ts';
import { readSafetensors, writeAtomically, writeSafetensors } from './safetensors.ts';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';

/** What the adapter writers need: the LoRA settings and the tensors under PEFT keys (a LoraAdapter is one). */
export interface LoraWeights {
  options: Pick<Required<LoraOptions>, 'rank' | 'alpha' | 'dropout' | 'targets' | 'rslora'>;
  parameters: ReadonlyMap<string, Tensor>;
}

/** The adapter_config.json fields ownlm reads. */
export interface PeftAdapterConfig {
  peft_type: 'LORA';
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: LoraTarget[];
  use_rslora: boolean;
  base_model_name_or_path: string | null;
}

export interface PeftAdapter {
  config: PeftAdapterConfig;
  /** The config as engine options, ready for `LlamaModel.attachLora`. */
  options: Required<Omit<LoraOptions, 'seed'>>;
  /** PEFT key → float32 tensor, in the engine's order (layer by layer, A before B). */
  tensors: Map<string, Tensor>;
}

/** adapter_config.json's fields as PEFT writes them for a LoRA on a causal language model. */
export function peftAdapterConfig(
  options: LoraWeights['options'],
  baseModel: string,
): Record<string, unknown> {
  return {
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    lora_alpha: options.alpha,
    lora_dropout: options.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: options.rank,
    target_modules: [...options.targets],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: options.rslora,
  };
}

/** Writes adapter_model.safetensors, then adapter_config.json, each atomically, creating `dir` if needed. */
export function writePeftAdapter(dir: string, adapter: LoraWeights, options: { baseModel: string }): void {
  mkdirSync(dir, { recursive: true });
  const tensors = [...adapter.parameters].map(([name, t]) => ({
    name,
    dtype: 'F32' as const,
    shape: t.shape,
    data: t.data,
  }));
  writeSafetensors(join(dir, PEFT_WEIGHTS_FILE), tensors);
  // PEFT writes json.dumps(indent=2, sort_keys=True) with no final newline.
  const json = sortedJson(peftAdapterConfig(adapter.options, options.baseModel)).trimEnd();
  writeAtomically(join(dir, PEFT_CONFIG_FILE), [Buffer.from(json, 'utf8')]);
}

/** Reads and validates adapter_config.json, refusing what ownlm would load wrongly (see the opening comment). */
export function readPeftAdapterConfig(file: string): PeftAdapterConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FormatError('not-found', file, '', 'no such file; a PEFT adapter folder needs it');
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new FormatError('invalid', file, '', `not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new FormatError('invalid', file, '', 'must be a JSON object');
  const c = raw as Record<string, unknown>;
  const invalid = (field: string, detail: string) => new FormatError('invalid', file, field, detail);
  const unsupported = (field: string, detail: string) => new FormatError('unsupported', file, field, detail);

  if (c.peft_type !== 'LORA')
    throw unsupported('peft_type', `${quoteValue(c.peft_type)}; only LORA adapters are read`);
  if (!Number.isInteger(c.r) || (c.r as number) <= 0)
    throw invalid('r', `must be a positive integer, got ${quoteValue(c.r)}`);
  if (typeof c.lora_alpha !== 'number' || !(c.lora_alpha > 0))
    throw invalid('lora_alpha', `must be a positive number, got ${quoteValue(c.lora_alpha)}`);
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    throw invalid('lora_dropout', `must be a number in [0, 1), got ${quoteValue(dropout)}`);
  const rslora = c.use_rslora ?? false;
  if (typeof rslora !== 'boolean') throw invalid('use_rslora', 'must be true or false');
  if (c.base_model_name_or_path != null && typeof c.base_model_name_or_path !== 'string')
    throw invalid('base_model_name_or_path', 'must be a string or null');

  let targets: LoraTarget[];
  if (c.target_modules === 'all-linear') targets = [...LORA_TARGETS];
  else if (Array.isArray(c.target_modules) && c.target_modules.length > 0) {
    for (const t of c.target_modules) {
      if (!LORA_TARGETS.includes(t as LoraTarget))
        throw unsupported('target_modules', `${quoteValue(t)} is not one of ${LORA_TARGETS.join(', ')}`);
    }
    targets = LORA_TARGETS.filter((t) => (c.target_modules as unknown[]).includes(t));
  } else
    throw unsupported(
      'target_modules',
      'must be a list of projection names or "all-linear" (regular expressions are not read)',
    );

  // Settings that change what the tensors mean; loading past them would compute something else.
  if (c.use_dora === true) throw unsupported('use_dora', 'DoRA adapters are not supported');
  if (c.fan_in_fan_out === true)
    throw unsupported('fan_in_fan_out', 'transposed (Conv1D) weights are not supported');
  if ((c.bias ?? 'none') !== 'none')
    throw unsupported('bias', `${quoteValue(c.bias)}; only "none" is supported`);
  if (c.layers_to_transform != null)
    throw unsupported('layers_to_transform', 'per-layer adapters are not supported');
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    const v = c[key];
    if (v != null && (typeof v !== 'object' || Object.keys(v).length > 0))
      throw unsupported(key, 'per-module rank or alpha is not supported');
  }
  const saved = c.modules_to_save;
  if (saved != null && !(Array.isArray(saved) && saved.length === 0))
    throw unsupported('modules_to_save', 'fully trained extra modules are not supported');

  return {
    peft_type: 'LORA',
    r: c.r as number,
    lora_alpha: c.lora_alpha,
    lora_dropout: dropout,
    target_modules: targets,
    use_rslora: rslora,
    base_model_name_or_path: (c.base_model_name_or_path as string | undefined) ?? null,
  };
}

const KEY = /^base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_(A|B)\.weight$/;

/**
 * Reads and validates an adapter folder. With the base model's config, every shape is checked against it
 * and every layer must be present; without, the shapes must agree with r and across layers.
 */
export function readPeftAdapter(dir: string, modelConfig?: LlamaConfig): PeftAdapter {
  const config = readPeftAdapterConfig(join(dir, PEFT_CONFIG_FILE));
  const file = join(dir, PEFT_WEIGHTS_FILE);
  const { tensors: stored } = readSafetensors(file);
  const fail = (field: string, detail: string) => new FormatError('invalid', file, field, detail);

  let layers = 0;
  const featuresSeen = new Map<string, number>();
  for (const [name, t] of stored) {
    const field = `tensor "${name}"`;
    const m = KEY.exec(name);
    const [layer, target, half] = [Number(m?.[1]), m?.[2] as LoraTarget, m?.[3] as 'A' | 'B'];
    if (!m || !LORA_TARGETS.includes(target) || loraKey(layer, target, `lora_${half}`) !== name)
      throw fail(
        field,
        'is not a LoRA tensor ownlm reads (expected base_model.model.model.layers.N.{self_attn|mlp}.<projection>.lora_{A|B}.weight)',
      );
    if (!config.target_modules.includes(target))
      throw fail(field, `adapts ${target}, which ${PEFT_CONFIG_FILE} target_modules does not list`);
    if (t.shape.length !== 2 || t.shape[half === 'A' ? 0 : 1] !== config.r)
      throw fail(
        `${field}.shape`,
        `[${t.shape}] must be ${half === 'A' ? `[r=${config.r}, in]` : `[out, r=${config.r}]`}`,
      );
    const features = t.shape[half === 'A' ? 1 : 0];
    if (modelConfig) {
      if (layer >= modelConfig.num_hidden_layers)
        throw fail(
          field,
          `layer ${layer} does not exist in a model of ${modelConfig.num_hidden_layers} layers`,
        );
      const [out, inFeatures] = projectionShape(modelConfig, target);
      const expected = half === 'A' ? [config.r, inFeatures] : [out, config.r];
      if (t.shape[0] !== expected[0] || t.shape[1] !== expected[1])
        throw fail(`${field}.shape`, `[${t.shape}] but the base model's ${target} needs [${expected}]`);
    } else {
      const key = `${target}.${half}`;
      if ((featuresSeen.get(key) ?? features) !== features)
        throw fail(`${field}.shape`, `[${t.shape}] differs from the same projection in other layers`);
      featuresSeen.set(key, features);
    }
    layers = Math.max(layers, layer + 1);
  }
  if (modelConfig) layers = modelConfig.num_hidden_layers;
  if (layers === 0) throw fail('', 'holds no LoRA tensors');

  const tensors = new Map<string, Tensor>();
  for (let layer = 0; layer < layers; layer++) {
    for (const target of config.target_modules) {
      for (const half of ['lora_A', 'lora_B'] as const) {
        const name = loraKey(layer, target, half);
        const t = stored.get(name);
        if (!t)
          throw fail(`tensor "${name}"`, 'is missing (every listed target needs A and B in every layer)');
        tensors.set(name, new Tensor(Float32Array.from(t.toFloat32()), t.shape, { name }));
      }
    }
  }
  const options = {
    rank: config.r,
    alpha: config.lora_alpha,
    dropout: config.lora_dropout,
    targets: config.target_modules,
    rslora: config.use_rslora,
  };
  return { config, options, tensors };
}

/** Reads an adapter folder against the model's config, attaches it to the model and loads its tensors. */
export function applyPeftAdapter(model: LlamaModel, dir: string): LoraAdapter {
  const { options, tensors } = readPeftAdapter(dir, model.config);
  const adapter = model.attachLora(options);
  for (const [name, t] of tensors) adapter.parameters.get(name)!.data.set(t.data);
  return adapter;
}
