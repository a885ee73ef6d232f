// The pretraining configuration: a flat config table (config-table.ts) whose keys say their kind, default, rule
// and help; validated once (unknown keys rejected, every error naming the key and where it came from),
// overridable key by key from CLI flags, and saved into every checkpoint.
import { modelPresets, type LlamaConfigInput, type ModelPresetName } from '@ownlm/engine';
import {
  atLeast,
  ConfigError,
  defaultsOf,
  mergeSettings,
  nonNegative,
  oneOf,
  positive,
  readSettingsFile,
  resolveSettings,
  settingsFromFlags,
  unit,
  type ConfigTable,
} from '../config-table.ts';

/** Each key's meaning, default and rule: `trainSettings`. */
export interface TrainConfig {
  data: string;
  tokenizer: string;
  out: string;
  model: ModelPresetName;
  hidden_size: number | null;
  intermediate_size: number | null;
  num_hidden_layers: number | null;
  num_attention_heads: number | null;
  num_key_value_heads: number | null;
  rope_theta: number;
  tie_word_embeddings: boolean;
  context: number;
  batch_size: number;
  grad_accumulation: number;
  steps: number;
  lr: number;
  min_lr: number;
  warmup_steps: number;
  schedule: 'constant' | 'linear' | 'cosine';
  weight_decay: number;
  beta1: number;
  beta2: number;
  grad_clip: number;
  dropout: number;
  seed: number;
  eval_every: number;
  eval_batches: number;
  sample_every: number;
  sample_prompts: string[];
  sample_tokens: number;
  checkpoint_every: number;
  checkpoint_minutes: number;
  keep_checkpoints: number;
  threads: number;
}

/** The keys the pretraining and fine-tune configs share: batches, optimizer, schedule, checkpoints. */
type TrainingKeys =
  | 'batch_size'
  | 'grad_accumulation'
  | 'min_lr'
  | 'warmup_steps'
  | 'schedule'
  | 'weight_decay'
  | 'beta1'
  | 'beta2'
  | 'grad_clip'
  | 'seed'
  | 'eval_every'
  | 'checkpoint_every'
  | 'checkpoint_minutes'
  | 'keep_checkpoints'
  | 'threads';

/** The shared keys' kinds, rules and help; each config gives its own defaults. */
export const trainingSettings: ConfigTable<Pick<TrainConfig, TrainingKeys>> = {
  batch_size: { kind: 'integer', rule: positive, help: 'sequences per micro-batch' },
  grad_accumulation: { kind: 'integer', rule: positive, help: 'micro-batches per optimizer step' },
  min_lr: { kind: 'number', rule: nonNegative, help: 'learning rate at the end of the schedule' },
  warmup_steps: { kind: 'integer', rule: nonNegative, help: 'steps of linear warmup' },
  schedule: {
    kind: 'string',
    placeholder: 'NAME',
    rule: oneOf(['constant', 'linear', 'cosine']),
    help: 'learning rate after the warmup: constant, linear or cosine decay',
  },
  weight_decay: { kind: 'number', rule: nonNegative, help: 'AdamW weight decay' },
  beta1: { kind: 'number', rule: unit, help: 'AdamW beta1' },
  beta2: { kind: 'number', rule: unit, help: 'AdamW beta2' },
  grad_clip: {
    kind: 'number',
    rule: nonNegative,
    help: 'largest global gradient norm; 0 turns clipping off',
  },
  seed: {
    kind: 'integer',
    rule: nonNegative,
    help: 'seed of the initialization, the batches and the samples',
  },
  eval_every: {
    kind: 'integer',
    rule: nonNegative,
    help: 'validation loss every N steps and at the end; 0: only at the end',
  },
  checkpoint_every: {
    kind: 'integer',
    rule: nonNegative,
    help: 'checkpoint every N steps and at the end; 0: only at the end',
  },
  checkpoint_minutes: { kind: 'number', rule: nonNegative, help: 'also checkpoint every X minutes; 0: off' },
  keep_checkpoints: {
    kind: 'integer',
    rule: positive,
    help: 'recent checkpoints kept besides the best one by validation loss',
  },
  threads: { kind: 'integer', rule: nonNegative, help: 'engine threads; 0: one per core' },
};

const shape = (help: string, defaultHelp = "the preset's") =>
  ({ kind: 'optional-integer', default: null, rule: positive, defaultHelp, help }) as const;

export const trainSettings: ConfigTable<TrainConfig> = {
  data: { kind: 'string', placeholder: 'DIR', help: 'token shards folder, from `ownlm data pack`' },
  tokenizer: { kind: 'string', placeholder: 'DIR', help: 'tokenizer folder the shards were packed with' },
  out: { kind: 'string', placeholder: 'DIR', help: 'run folder: checkpoints, metrics.jsonl, config.yaml' },
  model: {
    kind: 'string',
    default: 'tiny',
    placeholder: 'NAME',
    rule: oneOf(Object.keys(modelPresets)),
    help: 'model size preset; the shape keys below override it',
  },
  hidden_size: shape('width of the hidden states'),
  intermediate_size: shape('width of the feed-forward layers'),
  num_hidden_layers: shape('transformer layers'),
  num_attention_heads: shape('attention heads'),
  num_key_value_heads: shape('key and value heads, fewer for grouped-query attention', 'num_attention_heads'),
  rope_theta: { kind: 'number', default: 10000, rule: positive, help: 'RoPE base frequency' },
  tie_word_embeddings: {
    kind: 'boolean',
    default: false,
    help: 'share the input embedding with the output layer',
  },
  context: {
    kind: 'integer',
    default: 256,
    rule: atLeast(2),
    help: "tokens per training sequence, also the model's max_position_embeddings",
  },
  batch_size: { ...trainingSettings.batch_size, default: 16 },
  grad_accumulation: { ...trainingSettings.grad_accumulation, default: 1 },
  steps: { kind: 'integer', default: 1000, rule: positive, help: 'optimizer steps' },
  lr: { kind: 'number', default: 3e-3, rule: positive, help: 'peak learning rate' },
  min_lr: { ...trainingSettings.min_lr, default: 3e-4 },
  warmup_steps: { ...trainingSettings.warmup_steps, default: 100 },
  schedule: { ...trainingSettings.schedule, default: 'cosine' },
  weight_decay: { ...trainingSettings.weight_decay, default: 0.1 },
  beta1: { ...trainingSettings.beta1, default: 0.9 },
  beta2: { ...trainingSettings.beta2, default: 0.95 },
  grad_clip: { ...trainingSettings.grad_clip, default: 1 },
  dropout: { kind: 'number', default: 0, rule: unit, help: 'dropout probability' },
  seed: { ...trainingSettings.seed, default: 1 },
  eval_every: { ...trainingSettings.eval_every, default: 100 },
  eval_batches: { kind: 'integer', default: 20, rule: positive, help: 'validation batches per evaluation' },
  sample_every: {
    kind: 'integer',
    default: 0,
    rule: nonNegative,
    help: 'print samples every N steps; 0: never',
  },
  sample_prompts: {
    kind: 'strings',
    default: ['The'],
    placeholder: 'A|B',
    help: 'prompts the samples continue, separated by |',
  },
  sample_tokens: { kind: 'integer', default: 48, rule: positive, help: 'tokens per sample' },
  checkpoint_every: { ...trainingSettings.checkpoint_every, default: 100 },
  checkpoint_minutes: { ...trainingSettings.checkpoint_minutes, default: 10 },
  keep_checkpoints: { ...trainingSettings.keep_checkpoints, default: 3 },
  threads: { ...trainingSettings.threads, default: 0 },
};

export const trainDefaults = defaultsOf(trainSettings) as Omit<TrainConfig, 'data' | 'tokenizer' | 'out'>;

/**
 * The schedule rules both training configs check after defaults: min_lr ≤ lr, and warmup_steps ≤ steps when
 * the steps are known.
 */
export function checkSchedule(
  where: string,
  {
    lr,
    min_lr,
    warmup_steps,
    steps,
  }: { lr: number; min_lr: number; warmup_steps: number; steps: number | null },
): void {
  if (min_lr > lr)
    throw new ConfigError('conflict', `${where}: min_lr (${min_lr}) must not exceed lr (${lr})`, 'min_lr');
  if (steps !== null && warmup_steps > steps)
    throw new ConfigError(
      'conflict',
      `${where}: warmup_steps (${warmup_steps}) exceeds steps (${steps})`,
      'warmup_steps',
    );
}

/** Validates a partial config object from `where` (a file name or "flags") over a base config. */
export function mergeConfig(base: Partial<TrainConfig>, input: unknown, where: string): Partial<TrainConfig> {
  return mergeSettings(trainSettings, base, input, where);
}

/** Completes a partial config with defaults and checks cross-key rules; data, tokenizer and out are required. */
export function resolveConfig(partial: Partial<TrainConfig>, where: string): TrainConfig {
  const config = resolveSettings(trainSettings, partial, where);
  checkSchedule(where, config);
  return config;
}

/** Reads a YAML (or JSON) config file into a validated partial config. */
export function readConfigFile(path: string): Partial<TrainConfig> {
  return readSettingsFile(trainSettings, path);
}

/** Parses `--key value` flag strings (kebab- or snake-case) into typed values for mergeConfig. */
export function configFromFlags(flags: Record<string, string>): Record<string, unknown> {
  return settingsFromFlags(trainSettings, flags, 'train');
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
