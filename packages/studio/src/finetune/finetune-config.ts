// The fine-tune configuration: flat and typed like the pretraining config (same field rules, unknown keys
// rejected, errors naming the key and where it came from), overridable from flags, saved in every checkpoint.
import { LORA_TARGETS, type LoraTarget } from '@ownlm/engine';
import {
  ConfigError,
  mergeFields,
  nonNegative,
  positive,
  readYamlFile,
  unit,
  valuesFromFlags,
  type Field,
} from '../train/config.ts';

export interface FinetuneConfig {
  /** The base model: a model folder (Hugging Face layout, `ownlm import` output, checkpoint) or a llama GGUF. */
  base: string;
  /** Conversation dataset folder (train.jsonl, validation.jsonl, dataset.json). */
  data: string;
  /** Run folder: checkpoints, metrics.jsonl, config.yaml, the outputs and the report. */
  out: string;
  method: 'lora' | 'full';
  rank: number;
  alpha: number;
  lora_dropout: number;
  targets: LoraTarget[];
  rslora: boolean;
  /** Peak learning rate; null picks 2e-4 for LoRA and 2e-5 for full fine-tuning. */
  lr: number | null;
  min_lr: number;
  /** Passes over the training conversations, unless steps is set. */
  epochs: number;
  steps: number | null;
  batch_size: number;
  grad_accumulation: number;
  /** Longest sequence in tokens; null uses the base's max_position_embeddings (it may not exceed it). */
  context: number | null;
  warmup_steps: number;
  schedule: 'constant' | 'linear' | 'cosine';
  weight_decay: number;
  beta1: number;
  beta2: number;
  grad_clip: number;
  seed: number;
  /** Validation loss every N steps (0: only at the end). */
  eval_every: number;
  checkpoint_every: number;
  checkpoint_minutes: number;
  keep_checkpoints: number;
  threads: number;
  /** Also write the merged model (HF folder and GGUF). */
  merge: boolean;
  /** Prompts answered by base and tuned model in the report; empty: first user turns of held-out conversations. */
  scenarios: string[];
  scenario_tokens: number;
}

const optionalPositive: [(v: number | null) => boolean, string] = [(v) => v === null || v > 0, 'positive'];

const fields: Record<keyof FinetuneConfig, Field> = {
  base: { kind: 'string' },
  data: { kind: 'string' },
  out: { kind: 'string' },
  method: { kind: 'string', rule: [(v: string) => v === 'lora' || v === 'full', 'lora or full'] },
  rank: { kind: 'integer', rule: positive },
  alpha: { kind: 'number', rule: positive },
  lora_dropout: { kind: 'number', rule: unit },
  targets: {
    kind: 'strings',
    separator: ',',
    rule: [
      (v: string[]) =>
        v.length > 0 &&
        new Set(v).size === v.length &&
        v.every((t) => LORA_TARGETS.includes(t as LoraTarget)),
      `a non-empty list of distinct projections among ${LORA_TARGETS.join(', ')}`,
    ],
  },
  rslora: { kind: 'boolean' },
  lr: { kind: 'optional-number', rule: optionalPositive },
  min_lr: { kind: 'number', rule: nonNegative },
  epochs: { kind: 'number', rule: positive },
  steps: { kind: 'optional-integer', rule: optionalPositive },
  batch_size: { kind: 'integer', rule: positive },
  grad_accumulation: { kind: 'integer', rule: positive },
  context: { kind: 'optional-integer', rule: [(v: number | null) => v === null || v >= 2, '≥ 2'] },
  warmup_steps: { kind: 'integer', rule: nonNegative },
  schedule: {
    kind: 'string',
    rule: [(v: string) => ['constant', 'linear', 'cosine'].includes(v), 'constant, linear or cosine'],
  },
  weight_decay: { kind: 'number', rule: nonNegative },
  beta1: { kind: 'number', rule: unit },
  beta2: { kind: 'number', rule: unit },
  grad_clip: { kind: 'number', rule: nonNegative },
  seed: { kind: 'integer', rule: nonNegative },
  eval_every: { kind: 'integer', rule: nonNegative },
  checkpoint_every: { kind: 'integer', rule: nonNegative },
  checkpoint_minutes: { kind: 'number', rule: nonNegative },
  keep_checkpoints: { kind: 'integer', rule: positive },
  threads: { kind: 'integer', rule: nonNegative },
  merge: { kind: 'boolean' },
  scenarios: { kind: 'strings' },
  scenario_tokens: { kind: 'integer', rule: positive },
};

export const finetuneDefaults: Omit<FinetuneConfig, 'base' | 'data' | 'out'> = {
  method: 'lora',
  rank: 8,
  alpha: 16,
  lora_dropout: 0.05,
  targets: [...LORA_TARGETS],
  rslora: false,
  lr: null,
  min_lr: 0,
  epochs: 3,
  steps: null,
  batch_size: 4,
  grad_accumulation: 1,
  context: null,
  warmup_steps: 0,
  schedule: 'linear',
  weight_decay: 0,
  beta1: 0.9,
  beta2: 0.999,
  grad_clip: 1,
  seed: 1,
  eval_every: 50,
  checkpoint_every: 50,
  checkpoint_minutes: 10,
  keep_checkpoints: 2,
  threads: 0,
  merge: false,
  scenarios: [],
  scenario_tokens: 64,
};

/** Validates a partial fine-tune config from `where` (a file name or "flags") over a base config. */
export function mergeFinetuneConfig(
  base: Partial<FinetuneConfig>,
  input: unknown,
  where: string,
): Partial<FinetuneConfig> {
  return mergeFields(fields, base, input, where);
}

/** Reads a YAML (or JSON) fine-tune config file into a validated partial config. */
export function readFinetuneConfigFile(path: string): Partial<FinetuneConfig> {
  return mergeFields(fields, {}, readYamlFile(path), path);
}

/** Typed values of `--key value` flags (kebab- or snake-case; --targets q_proj,v_proj). */
export function finetuneConfigFromFlags(flags: Record<string, string>): Record<string, unknown> {
  return valuesFromFlags(fields, flags, 'finetune');
}

/** Completes a partial config with defaults; base, data and out are required. */
export function resolveFinetuneConfig(partial: Partial<FinetuneConfig>, where: string): FinetuneConfig {
  const config = { ...finetuneDefaults, ...partial } as FinetuneConfig;
  for (const key of ['base', 'data', 'out'] as const) {
    if (!config[key])
      throw new ConfigError(`${where}: '${key}' is required (in the config file or as --${key})`);
  }
  const lr = learningRateOf(config);
  if (config.min_lr > lr)
    throw new ConfigError(`${where}: min_lr (${config.min_lr}) must not exceed lr (${lr})`);
  if (config.steps !== null && config.warmup_steps > config.steps)
    throw new ConfigError(`${where}: warmup_steps (${config.warmup_steps}) exceeds steps (${config.steps})`);
  return config;
}

/** The peak learning rate: the configured one, or the method's default. */
export function learningRateOf(config: FinetuneConfig): number {
  return config.lr ?? (config.method === 'lora' ? 2e-4 : 2e-5);
}

/** Optimizer steps of a run over `trainExamples` conversations: `steps`, or the epochs' worth of batches. */
export function stepsOf(config: FinetuneConfig, trainExamples: number): number {
  if (config.steps !== null) return config.steps;
  const perStep = config.batch_size * config.grad_accumulation;
  return Math.max(1, Math.ceil((config.epochs * trainExamples) / perStep));
}
