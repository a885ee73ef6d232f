// The training configuration: flat, typed, validated once (unknown keys rejected, every error naming the key
// and where it came from), overridable key by key from CLI flags, and saved into every checkpoint.
import { readFileSync } from 'node:fs';
import { modelPresets, type LlamaConfigInput, type ModelPresetName } from '@ownlm/engine';
import { parse as parseYaml } from 'yaml';

export interface TrainConfig {
  /** Token shards folder (`ownlm data pack` output). */
  data: string;
  /** Tokenizer folder the shards were packed with. */
  tokenizer: string;
  /** Run folder: checkpoints, metrics.jsonl, config.yaml. */
  out: string;
  /** Model size preset (tiny, small, base); the shape keys below override it. */
  model: ModelPresetName;
  hidden_size: number | null;
  intermediate_size: number | null;
  num_hidden_layers: number | null;
  num_attention_heads: number | null;
  num_key_value_heads: number | null;
  rope_theta: number;
  tie_word_embeddings: boolean;
  /** Tokens per training sequence (also the model's max_position_embeddings). */
  context: number;
  batch_size: number;
  /** Micro-batches per optimizer step. */
  grad_accumulation: number;
  steps: number;
  lr: number;
  min_lr: number;
  warmup_steps: number;
  schedule: 'constant' | 'linear' | 'cosine';
  weight_decay: number;
  beta1: number;
  beta2: number;
  /** Max global gradient norm; 0 turns clipping off. */
  grad_clip: number;
  dropout: number;
  seed: number;
  /** Validate every N steps (0: only at the end). */
  eval_every: number;
  eval_batches: number;
  /** Print samples every N steps (0: never). */
  sample_every: number;
  sample_prompts: string[];
  sample_tokens: number;
  /** Checkpoint every N steps and every M minutes (0 turns either off); always at the end. */
  checkpoint_every: number;
  checkpoint_minutes: number;
  /** Recent checkpoints kept besides the best one by validation loss. */
  keep_checkpoints: number;
  /** Engine threads (0: one per core). */
  threads: number;
}

export type FieldKind =
  'string' | 'integer' | 'number' | 'boolean' | 'strings' | 'optional-integer' | 'optional-number';

/** How one key of a flat config is checked; the fine-tune config shares these rules. */
export interface Field {
  kind: FieldKind;
  /** A requirement checked after the type, with its wording for the error. */
  rule?: [(value: never) => boolean, string];
  /** How a flag's text splits into a list (strings kind; default '|'). */
  separator?: string;
}

export const positive: [(v: number) => boolean, string] = [(v) => v > 0, 'positive'];
export const nonNegative: [(v: number) => boolean, string] = [(v) => v >= 0, '≥ 0'];
export const unit: [(v: number) => boolean, string] = [(v) => v >= 0 && v < 1, 'in [0, 1)'];

const fields: Record<keyof TrainConfig, Field> = {
  data: { kind: 'string' },
  tokenizer: { kind: 'string' },
  out: { kind: 'string' },
  model: {
    kind: 'string',
    rule: [(v: string) => v in modelPresets, `one of ${Object.keys(modelPresets).join(', ')}`],
  },
  hidden_size: { kind: 'optional-integer', rule: [(v: number | null) => v === null || v > 0, 'positive'] },
  intermediate_size: {
    kind: 'optional-integer',
    rule: [(v: number | null) => v === null || v > 0, 'positive'],
  },
  num_hidden_layers: {
    kind: 'optional-integer',
    rule: [(v: number | null) => v === null || v > 0, 'positive'],
  },
  num_attention_heads: {
    kind: 'optional-integer',
    rule: [(v: number | null) => v === null || v > 0, 'positive'],
  },
  num_key_value_heads: {
    kind: 'optional-integer',
    rule: [(v: number | null) => v === null || v > 0, 'positive'],
  },
  rope_theta: { kind: 'number', rule: positive },
  tie_word_embeddings: { kind: 'boolean' },
  context: { kind: 'integer', rule: [(v: number) => v >= 2, '≥ 2'] },
  batch_size: { kind: 'integer', rule: positive },
  grad_accumulation: { kind: 'integer', rule: positive },
  steps: { kind: 'integer', rule: positive },
  lr: { kind: 'number', rule: positive },
  min_lr: { kind: 'number', rule: nonNegative },
  warmup_steps: { kind: 'integer', rule: nonNegative },
  schedule: {
    kind: 'string',
    rule: [(v: string) => ['constant', 'linear', 'cosine'].includes(v), 'constant, linear or cosine'],
  },
  weight_decay: { kind: 'number', rule: nonNegative },
  beta1: { kind: 'number', rule: unit },
  beta2: { kind: 'number', rule: unit },
  grad_clip: { kind: 'number', rule: nonNegative },
  dropout: { kind: 'number', rule: unit },
  seed: { kind: 'integer', rule: nonNegative },
  eval_every: { kind: 'integer', rule: nonNegative },
  eval_batches: { kind: 'integer', rule: positive },
  sample_every: { kind: 'integer', rule: nonNegative },
  sample_prompts: { kind: 'strings' },
  sample_tokens: { kind: 'integer', rule: positive },
  checkpoint_every: { kind: 'integer', rule: nonNegative },
  checkpoint_minutes: { kind: 'number', rule: nonNegative },
  keep_checkpoints: { kind: 'integer', rule: positive },
  threads: { kind: 'integer', rule: nonNegative },
};

export const trainDefaults: Omit<TrainConfig, 'data' | 'tokenizer' | 'out'> = {
  model: 'tiny',
  hidden_size: null,
  intermediate_size: null,
  num_hidden_layers: null,
  num_attention_heads: null,
  num_key_value_heads: null,
  rope_theta: 10000,
  tie_word_embeddings: false,
  context: 256,
  batch_size: 16,
  grad_accumulation: 1,
  steps: 1000,
  lr: 3e-3,
  min_lr: 3e-4,
  warmup_steps: 100,
  schedule: 'cosine',
  weight_decay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  grad_clip: 1,
  dropout: 0,
  seed: 1,
  eval_every: 100,
  eval_batches: 20,
  sample_every: 0,
  sample_prompts: ['The'],
  sample_tokens: 48,
  checkpoint_every: 100,
  checkpoint_minutes: 10,
  keep_checkpoints: 3,
  threads: 0,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describe(value: unknown): string {
  return value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : `${typeof value} ${JSON.stringify(value)}`;
}

function checkValue(field: Field, key: string, value: unknown, where: string): unknown {
  const bad = (expected: string) =>
    new ConfigError(`${where}: ${key} must be ${expected}, got ${describe(value)}`);
  switch (field.kind) {
    case 'string':
      if (typeof value !== 'string' || value === '') throw bad('a non-empty string');
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw bad('an integer');
      break;
    case 'optional-integer':
      if (value !== null && (typeof value !== 'number' || !Number.isSafeInteger(value)))
        throw bad('an integer or null');
      break;
    case 'optional-number':
      if (value !== null && (typeof value !== 'number' || !Number.isFinite(value)))
        throw bad('a finite number or null');
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a finite number');
      break;
    case 'boolean':
      if (typeof value !== 'boolean') throw bad('true or false');
      break;
    case 'strings':
      if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) throw bad('a list of strings');
      break;
  }
  if (field.rule && !field.rule[0](value as never)) throw bad(field.rule[1]);
  return value;
}

/** Validates a partial config object from `where` (a file name or "flags") against `table` over `base`. */
export function mergeFields<C>(
  table: Record<string, Field>,
  base: Partial<C>,
  input: unknown,
  where: string,
): Partial<C> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${where}: a config must be a mapping of keys to values, got ${describe(input)}`);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input)) {
    if (!(key in table))
      throw new ConfigError(`${where}: unknown key '${key}'; known keys: ${Object.keys(table).join(', ')}`);
    out[key] = checkValue(table[key], key, value, where);
  }
  return out as Partial<C>;
}

/** Validates a partial config object from `where` (a file name or "flags") over a base config. */
export function mergeConfig(base: Partial<TrainConfig>, input: unknown, where: string): Partial<TrainConfig> {
  return mergeFields(fields, base, input, where);
}

/** Completes a partial config with defaults and checks cross-key rules; data, tokenizer and out are required. */
export function resolveConfig(partial: Partial<TrainConfig>, where: string): TrainConfig {
  const config = { ...trainDefaults, ...partial } as TrainConfig;
  for (const key of ['data', 'tokenizer', 'out'] as const) {
    if (!config[key])
      throw new ConfigError(`${where}: '${key}' is required (in the config file or as --${key})`);
  }
  if (config.min_lr > config.lr)
    throw new ConfigError(`${where}: min_lr (${config.min_lr}) must not exceed lr (${config.lr})`);
  if (config.warmup_steps > config.steps)
    throw new ConfigError(`${where}: warmup_steps (${config.warmup_steps}) exceeds steps (${config.steps})`);
  return config;
}

/** Reads a YAML (or JSON) config file into a validated partial config. */
export function readConfigFile(path: string): Partial<TrainConfig> {
  return mergeFields(fields, {}, readYamlFile(path), path);
}

/** The parsed content of a YAML (or JSON) config file ({} when empty). */
export function readYamlFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the config file (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid YAML: ${(error as Error).message}`);
  }
  return parsed ?? {};
}

/** Parses `--key value` flag strings (kebab- or snake-case) into typed values for mergeFields. */
export function valuesFromFlags(
  table: Record<string, Field>,
  flags: Record<string, string>,
  command: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, text] of Object.entries(flags)) {
    const key = flag.replace(/-/g, '_');
    const field = table[key];
    if (!field) throw new ConfigError(`flags: unknown option --${flag}; see \`ownlm ${command} --help\``);
    if (field.kind === 'string') out[key] = text;
    else if (field.kind === 'boolean') out[key] = text === 'true' ? true : text === 'false' ? false : text;
    else if (field.kind === 'strings') out[key] = text.split(field.separator ?? '|');
    else if (field.kind.startsWith('optional-') && text === 'null') out[key] = null;
    else out[key] = text.trim() === '' ? text : Number(text);
  }
  return out;
}

/** Parses `--key value` flag strings (kebab- or snake-case) into typed values for mergeConfig. */
export function configFromFlags(flags: Record<string, string>): Record<string, unknown> {
  return valuesFromFlags(fields, flags, 'train');
}

/** The engine model config for a training config and a tokenizer vocabulary. */
export function modelConfig(config: TrainConfig, vocabSize: number): LlamaConfigInput {
  const preset = modelPresets[config.model].config;
  const pick = (value: number | null, fallback: number) => value ?? fallback;
  const heads = pick(config.num_attention_heads, preset.num_attention_heads);
  return {
    vocab_size: vocabSize,
    hidden_size: pick(config.hidden_size, preset.hidden_size),
    intermediate_size: pick(config.intermediate_size, preset.intermediate_size),
    num_hidden_layers: pick(config.num_hidden_layers, preset.num_hidden_layers),
    num_attention_heads: heads,
    num_key_value_heads: pick(config.num_key_value_heads, heads),
    max_position_embeddings: config.context,
    rope_theta: config.rope_theta,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: config.tie_word_embeddings,
  };
}
