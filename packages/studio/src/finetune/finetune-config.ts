// The fine-tune configuration: a flat config table like the pretraining one (config-table.ts: same rules,
// unknown keys rejected, errors naming the key and where it came from), overridable from flags, saved in every
// checkpoint.
import { LORA_TARGETS, type LoraTarget } from '@ownlm/engine';
import {
  atLeast,
  defaultsOf,
  mergeSettings,
  oneOf,
  positive,
  readSettingsFile,
  resolveSettings,
  schemaRule,
  settingsFromFlags,
  unit,
  type ConfigTable,
} from '../config-table.ts';
import { checkSchedule, trainingSettings } from '../train/config.ts';

/** Each key's meaning, default and rule: `finetuneSettings`. */
export interface FinetuneConfig {
  base: string;
  data: string;
  out: string;
  method: 'lora' | 'full';
  rank: number;
  alpha: number;
  lora_dropout: number;
  targets: LoraTarget[];
  rslora: boolean;
  lr: number | null;
  min_lr: number;
  epochs: number;
  steps: number | null;
  batch_size: number;
  grad_accumulation: number;
  context: number | null;
  warmup_steps: number;
  schedule: 'constant' | 'linear' | 'cosine';
  weight_decay: number;
  beta1: number;
  beta2: number;
  grad_clip: number;
  seed: number;
  eval_every: number;
  checkpoint_every: number;
  checkpoint_minutes: number;
  keep_checkpoints: number;
  threads: number;
  merge: boolean;
  scenarios: string[];
  scenario_tokens: number;
}

export const finetuneSettings: ConfigTable<FinetuneConfig> = {
  base: {
    kind: 'string',
    placeholder: 'PATH',
    help: 'the base model: a model folder or a llama GGUF',
  },
  data: {
    kind: 'string',
    placeholder: 'DIR',
    help: 'conversation dataset folder, from `ownlm dataset import`',
  },
  out: {
    kind: 'string',
    placeholder: 'DIR',
    help: 'run folder: checkpoints, metrics.jsonl, config.yaml, the outputs and the report',
  },
  method: {
    kind: 'string',
    default: 'lora',
    placeholder: 'NAME',
    rule: oneOf(['lora', 'full']),
    help: 'lora trains an adapter on the frozen base, full trains every weight',
  },
  rank: { kind: 'integer', default: 8, rule: positive, help: 'LoRA rank' },
  alpha: {
    kind: 'number',
    default: 16,
    rule: positive,
    help: 'LoRA alpha: the update is scaled by alpha / rank',
  },
  lora_dropout: { kind: 'number', default: 0.05, rule: unit, help: 'dropout on the LoRA path' },
  targets: {
    kind: 'strings',
    default: [...LORA_TARGETS],
    separator: ',',
    placeholder: 'A,B',
    rule: schemaRule(
      { enum: LORA_TARGETS, minItems: 1, uniqueItems: true },
      `a non-empty list of distinct projections among ${LORA_TARGETS.join(', ')}`,
    ),
    help: 'the projections LoRA adapts, comma-separated',
  },
  rslora: { kind: 'boolean', default: false, help: 'rank-stabilized LoRA: scale by alpha / √rank' },
  lr: {
    kind: 'optional-number',
    default: null,
    rule: positive,
    defaultHelp: '2e-4 for lora, 2e-5 for full',
    help: 'peak learning rate',
  },
  min_lr: { ...trainingSettings.min_lr, default: 0 },
  epochs: {
    kind: 'number',
    default: 3,
    rule: positive,
    help: 'passes over the training conversations, unless steps is set',
  },
  steps: {
    kind: 'optional-integer',
    default: null,
    rule: positive,
    defaultHelp: 'from epochs',
    help: 'optimizer steps',
  },
  batch_size: { ...trainingSettings.batch_size, default: 4, help: 'conversations per micro-batch' },
  grad_accumulation: { ...trainingSettings.grad_accumulation, default: 1 },
  context: {
    kind: 'optional-integer',
    default: null,
    rule: atLeast(2),
    defaultHelp: "the base's",
    help: "longest sequence in tokens, at most the base's max_position_embeddings",
  },
  warmup_steps: { ...trainingSettings.warmup_steps, default: 0 },
  schedule: { ...trainingSettings.schedule, default: 'linear' },
  weight_decay: { ...trainingSettings.weight_decay, default: 0 },
  beta1: { ...trainingSettings.beta1, default: 0.9 },
  beta2: { ...trainingSettings.beta2, default: 0.999 },
  grad_clip: { ...trainingSettings.grad_clip, default: 1 },
  seed: { ...trainingSettings.seed, default: 1 },
  eval_every: { ...trainingSettings.eval_every, default: 50 },
  checkpoint_every: { ...trainingSettings.checkpoint_every, default: 50 },
  checkpoint_minutes: { ...trainingSettings.checkpoint_minutes, default: 10 },
  keep_checkpoints: { ...trainingSettings.keep_checkpoints, default: 2 },
  threads: { ...trainingSettings.threads, default: 0 },
  merge: {
    kind: 'boolean',
    default: false,
    help: 'also write the merged model (Hugging Face folder and GGUF)',
  },
  scenarios: {
    kind: 'strings',
    default: [],
    defaultHelp: 'the first user turns of up to 4 held-out conversations',
    help: 'prompts base and tuned model answer in the report',
  },
  scenario_tokens: { kind: 'integer', default: 64, rule: positive, help: 'tokens per scenario answer' },
};

export const finetuneDefaults = defaultsOf(finetuneSettings) as Omit<FinetuneConfig, 'base' | 'data' | 'out'>;

/** Validates a partial fine-tune config from `where` (a file name, "flags" or "params") over a base config. */
export function mergeFinetuneConfig(
  base: Partial<FinetuneConfig>,
  input: unknown,
  where: string,
): Partial<FinetuneConfig> {
  return mergeSettings(finetuneSettings, base, input, where);
}

/** Reads a YAML or JSON fine-tune config file into a validated partial config. */
export function readFinetuneConfigFile(path: string): Partial<FinetuneConfig> {
  return readSettingsFile(finetuneSettings, path);
}

/** Typed values of `--key value` flags (kebab- or snake-case; --targets q_proj,v_proj). */
export function finetuneConfigFromFlags(flags: Record<string, string>): Record<string, unknown> {
  return settingsFromFlags(finetuneSettings, flags, 'finetune');
}

/** Completes a partial config with defaults and checks cross-key rules; base, data and out are required. */
export function resolveFinetuneConfig(partial: Partial<FinetuneConfig>, where: string): FinetuneConfig {
  const config = resolveSettings(finetuneSettings, partial, where);
  checkSchedule(where, { ...config, lr: learningRateOf(config) });
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
