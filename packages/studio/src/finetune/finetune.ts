// Fine-tuning a base model on a conversation dataset with the engine: SFT with the loss on assistant tokens
// only, LoRA (AdamW on the adapter's matrices, the base frozen) or full fine-tuning (AdamW on every weight),
// then the verified outputs and the before/after report.
//
// Training is the one training loop (train/loop.ts). Each epoch visits the training conversations in an order
// drawn from (seed, epoch), and step s takes the conversations at positions [s·B·A, (s+1)·B·A) of that sequence
// of epochs, so a run resumed from a checkpoint repeats the uninterrupted one bit for bit. A LoRA checkpoint
// holds the adapter's tensors only.
//
// The base model is evaluated before training (held-out assistant perplexity and scenario answers, kept in
// base-evaluation.json so a resumed run does not redo it), since full fine-tuning changes its weights in place.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  AdamW,
  backend,
  parameterCount,
  Random,
  type LlamaConfig,
  type LlamaModel,
  type LoraAdapter,
} from '@ownlm/engine';
import { stringify as toYaml } from 'yaml';
import { ConfigError } from '../config-table.ts';
import { DataError } from '../data/errors.ts';
import { readGgufHeader } from '../formats/gguf.ts';
import { llamaGgufConfig } from '../formats/gguf-llama.ts';
import { writeGgufTokenizerFiles } from '../formats/gguf-tokenizer.ts';
import { readModelConfig } from '../formats/hf-folder.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { resumableCheckpoint } from '../train/checkpoint.ts';
import { importModel, loadModelFolder } from '../train/import.ts';
import { loopComputeKeys, trainLoop, type TrainEvent, type TrainLoopResult } from '../train/loop.ts';
import { largestFittingBatch, preflight, type Preflight } from '../train/preflight.ts';
import {
  assistantLoss,
  buildReport,
  defaultScenarios,
  evaluateModel,
  type FinetuneReport,
  type ModelEvaluation,
} from './compare.ts';
import { readConversationDataset } from './dataset.ts';
import { learningRateOf, stepsOf, type FinetuneConfig } from './finetune-config.ts';
import { writeBaseGguf, writeFinetuneOutputs, type FinetuneOutputs } from './outputs.ts';
import { renderReportHtml, renderReportMarkdown } from './report-render.ts';
import {
  encodeConversations,
  sequenceBatch,
  type EncodedConversation,
  type EncodedDataset,
} from './sft-encode.ts';

export type FinetuneStage =
  'prepare-base' | 'encode-dataset' | 'evaluate-base' | 'train' | 'write-outputs' | 'report';

/** What kind of file an artifact-written event announces. */
export type ArtifactKind =
  | 'peft-adapter'
  | 'gguf-adapter'
  | 'base-gguf'
  | 'merged-hf'
  | 'merged-gguf'
  | 'lineage'
  | 'report-json'
  | 'report-markdown'
  | 'report-html';

export type FinetuneEvent =
  | TrainEvent
  | { type: 'finetune-stage'; stage: FinetuneStage }
  | {
      type: 'dataset-encoded';
      split: 'train' | 'validation';
      conversations: number;
      truncated: number;
      dropped: number;
      assistantTokens: number;
    }
  | { type: 'artifact-written'; kind: ArtifactKind; path: string };

export interface FinetuneRunOptions {
  /** Continue from the newest good checkpoint in config.out (a fresh start when there is none). */
  resume?: boolean;
  onEvent?: (event: FinetuneEvent) => void;
  /** Aborting saves a checkpoint at the current step and ends the run with a DataError (aborted). */
  signal?: AbortSignal;
}

export interface FinetuneResult {
  out: string;
  outputs: FinetuneOutputs;
  report: FinetuneReport;
  finalLoss: number;
  validationLoss: number | null;
}

/** Keys that change what is computed: a resumed run must use the values it started with. */
const computeKeys: (keyof FinetuneConfig)[] = [
  ...loopComputeKeys,
  'base',
  'data',
  'method',
  'rank',
  'alpha',
  'lora_dropout',
  'targets',
  'rslora',
  'lr',
  'epochs',
  'steps',
  'batch_size',
  'context',
  'weight_decay',
  'beta1',
  'beta2',
];

const BASE_EVALUATION_FILE = 'base-evaluation.json';

function isGgufFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The base as a model folder: itself, or `<out>/base` where a GGUF base is dequantized (once per run). */
export function baseModelDir(config: FinetuneConfig): string {
  return isGgufFile(config.base) ? join(resolve(config.out), 'base') : config.base;
}

function loadBase(config: FinetuneConfig): { model: LlamaModel; tokenizer: Tokenizer; dir: string } {
  const dir = baseModelDir(config);
  if (dir === config.base) return { ...loadModelFolder(dir), dir };
  const loaded = existsSync(join(dir, 'config.json'))
    ? loadModelFolder(dir)
    : importModel({ from: config.base, out: dir, overwrite: true });
  return { ...loaded, dir };
}

/** The context a run trains at: the configured one, checked against the base, or the base's. */
export function contextOf(config: FinetuneConfig, base: LlamaConfig): number {
  if (config.context !== null && config.context > base.max_position_embeddings)
    throw new ConfigError(
      'conflict',
      `context ${config.context} exceeds the base model's max_position_embeddings (${base.max_position_embeddings}); use --context ${base.max_position_embeddings} or less`,
    );
  return config.context ?? base.max_position_embeddings;
}

function loraOptions(config: FinetuneConfig) {
  return {
    rank: config.rank,
    alpha: config.alpha,
    dropout: config.lora_dropout,
    targets: config.targets,
    rslora: config.rslora,
    seed: config.seed,
  };
}

/** Adapter parameters of a config on a base (what LoRA trains): 2·r·(in + out) per adapted projection. */
function trainableParameters(config: FinetuneConfig, base: LlamaConfig): number {
  if (config.method === 'full') return parameterCount(base);
  const { hidden_size: h, intermediate_size: f, head_dim: d } = base;
  const q = base.num_attention_heads * d;
  const kv = base.num_key_value_heads * d;
  const sizes: Record<string, number> = {
    q_proj: h + q,
    k_proj: h + kv,
    v_proj: h + kv,
    o_proj: q + h,
    gate_proj: h + f,
    up_proj: h + f,
    down_proj: f + h,
  };
  return base.num_hidden_layers * config.targets.reduce((n, t) => n + config.rank * sizes[t], 0);
}

export interface FinetuneEstimate {
  parameters: number;
  trainableParameters: number;
  memoryBytes: number;
  availableBytes: number;
  fits: boolean;
  steps: number;
  /** Tokens the run processes (inputs of every step). */
  tokens: number;
  seconds: number;
  preflight: Preflight;
}

/**
 * Memory and time of a run before it starts. Memory: the pretraining estimate's activations at the context,
 * with LoRA's state (frozen float32 base, 16 bytes per adapter parameter) in place of full training's 16
 * bytes per parameter. Time: the measured matmul rate over the run's tokens; a LoRA step skips the base
 * weights' gradient products, about a third of a training step's work.
 */
function estimate(config: FinetuneConfig, base: LlamaConfig, train: EncodedDataset): FinetuneEstimate {
  const context = contextOf(config, base);
  const check = preflight(base, config.batch_size, context, config.grad_accumulation);
  const trainable = trainableParameters(config, base);
  const stateBytes = config.method === 'full' ? check.stateBytes : 4 * check.parameters + 16 * trainable;
  const totalBytes = Math.ceil((stateBytes + check.activationBytes) * 1.25);
  const steps = stepsOf(config, train.examples.length);
  const meanLength =
    train.examples.reduce((n, e) => n + e.ids.length - 1, 0) / Math.max(1, train.examples.length);
  const tokens = Math.round(steps * config.batch_size * config.grad_accumulation * meanLength);
  const fullStepTokens = config.batch_size * context * config.grad_accumulation;
  const secondsPerToken = check.estimatedSecondsPerStep / fullStepTokens;
  const seconds = tokens * secondsPerToken * (config.method === 'lora' ? 2 / 3 : 1);
  const adjusted: Preflight = {
    ...check,
    stateBytes,
    totalBytes,
    fits: totalBytes <= check.availableBytes,
    estimatedSecondsPerStep: seconds / steps,
  };
  return {
    parameters: check.parameters,
    trainableParameters: trainable,
    memoryBytes: totalBytes,
    availableBytes: check.availableBytes,
    fits: adjusted.fits,
    steps,
    tokens,
    seconds,
    preflight: adjusted,
  };
}

/** What a preflight needs of a base model: its config and tokenizer, not its weights. */
export interface BaseModelInfo {
  config: LlamaConfig;
  tokenizer: Tokenizer;
}

/**
 * The base's config and tokenizer: from its model folder (or the run's imported copy of a GGUF base), or from
 * a GGUF's header, whose weights are not read.
 */
export function readBaseModelInfo(config: FinetuneConfig): BaseModelInfo {
  const dir = baseModelDir(config);
  if (dir === config.base || existsSync(join(dir, 'config.json')))
    return { config: readModelConfig(dir), tokenizer: Tokenizer.fromFile(dir) };
  const header = readGgufHeader(config.base);
  const scratch = mkdtempSync(join(tmpdir(), 'ownlm-preflight-'));
  try {
    writeGgufTokenizerFiles(header, scratch);
    return { config: llamaGgufConfig(header), tokenizer: Tokenizer.fromFile(scratch) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The preflight estimate of a fine-tune (for `POST /api/jobs/preflight`): encodes the training split with the
 * base's tokenizer. `base` is read from the config's base when not given.
 */
export function finetunePreflight(
  config: FinetuneConfig,
  base: BaseModelInfo = readBaseModelInfo(config),
): FinetuneEstimate {
  const dataset = readConversationDataset(config.data);
  const train = encodeConversations(base.tokenizer, dataset.train, {
    context: contextOf(config, base.config),
  });
  return estimate(config, base.config, train);
}

/** The order of the training conversations in one epoch: a permutation drawn from (seed, epoch). */
function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  const random = new Random(seed + 7919 * (epoch + 1));
  const order = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** The conversations of micro-batch `micro` of optimizer step `step` (a function of seed and step only). */
function microBatch(
  examples: readonly EncodedConversation[],
  config: FinetuneConfig,
  step: number,
  micro: number,
  orders: Map<number, Int32Array>,
): EncodedConversation[] {
  const first = (step * config.grad_accumulation + micro) * config.batch_size;
  return Array.from({ length: config.batch_size }, (_, b) => {
    const position = first + b;
    const epoch = Math.floor(position / examples.length);
    let order = orders.get(epoch);
    if (!order) {
      orders.clear(); // only the current epoch (and the next, at a boundary) is ever needed
      order = epochOrder(examples.length, config.seed, epoch);
      orders.set(epoch, order);
    }
    return examples[order[position % examples.length]];
  });
}

interface TrainInput {
  config: FinetuneConfig;
  runDir: string;
  model: LlamaModel;
  tokenizer: Tokenizer;
  baseDir: string;
  train: EncodedDataset;
  validation: EncodedDataset;
  estimate: FinetuneEstimate;
  options: FinetuneRunOptions;
  emit: (event: FinetuneEvent) => void;
}

interface TrainOutcome extends TrainLoopResult {
  adapter: LoraAdapter | null;
}

function train(input: TrainInput): TrainOutcome {
  const { config, runDir, model, emit, options } = input;
  const examples = input.train.examples;
  const steps = input.estimate.steps;
  const resumed = resumableCheckpoint<FinetuneConfig>(runDir, {
    resume: options.resume === true,
    config,
    computeKeys,
    onRejected: (dir, reason) => emit({ type: 'checkpoint-rejected', dir, reason }),
  });
  const adapter = config.method === 'lora' ? model.attachLora(loraOptions(config)) : null;
  const optimizer = new AdamW((adapter ?? model).parameterGroups(config.weight_decay), {
    lr: learningRateOf(config),
    beta1: config.beta1,
    beta2: config.beta2,
  });
  const orders = new Map<number, Int32Array>();
  const outcome = trainLoop({
    model,
    optimizer,
    config,
    lr: learningRateOf(config),
    steps,
    nextBatch: (step, micro) => sequenceBatch(microBatch(examples, config, step, micro, orders)),
    validationLoss: () => assistantLoss(model, input.validation.examples).loss,
    run: {
      dir: runDir,
      resumed,
      weights: adapter?.parameters,
      tokenizer: input.tokenizer,
      tokenizerDir: input.baseDir,
      preflight: input.estimate.preflight,
      parameters: input.estimate.trainableParameters,
    },
    emit,
    stop: options.signal && {
      signal: options.signal,
      error: (step) =>
        new DataError('aborted', `fine-tune stopped at step ${step} of ${steps}; resume with --resume`),
    },
  });
  return { ...outcome, adapter };
}

/** Base evaluation kept across resumes, with the inputs it was computed for. */
interface SavedBaseEvaluation {
  scenarios: string[];
  scenarioTokens: number;
  evaluation: ModelEvaluation;
}

function baseEvaluation(
  runDir: string,
  resume: boolean,
  compute: () => ModelEvaluation,
  scenarios: string[],
  scenarioTokens: number,
): ModelEvaluation {
  const path = join(runDir, BASE_EVALUATION_FILE);
  if (resume && existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as SavedBaseEvaluation;
    if (
      JSON.stringify([saved.scenarios, saved.scenarioTokens]) === JSON.stringify([scenarios, scenarioTokens])
    )
      return saved.evaluation;
  }
  const evaluation = compute();
  const saved: SavedBaseEvaluation = { scenarios, scenarioTokens, evaluation };
  writeFileSync(path, `${JSON.stringify(saved, null, 2)}\n`);
  return evaluation;
}

/** Runs a whole fine-tune: base, dataset, base evaluation, training, verified outputs, report and lineage. */
export async function runFinetune(
  config: FinetuneConfig,
  options: FinetuneRunOptions = {},
): Promise<FinetuneResult> {
  const emit = options.onEvent ?? (() => {});
  const runDir = resolve(config.out);
  mkdirSync(runDir, { recursive: true });
  backend().setThreads(config.threads > 0 ? config.threads : availableParallelism());

  emit({ type: 'finetune-stage', stage: 'prepare-base' });
  const base = loadBase(config);
  const { model, tokenizer } = base;
  const context = contextOf(config, model.config);

  emit({ type: 'finetune-stage', stage: 'encode-dataset' });
  const dataset = readConversationDataset(config.data);
  const encoded = {
    train: encodeConversations(tokenizer, dataset.train, { context }),
    validation: encodeConversations(tokenizer, dataset.validation, { context }),
  };
  for (const split of ['train', 'validation'] as const) {
    const e = encoded[split];
    emit({
      type: 'dataset-encoded',
      split,
      conversations: e.examples.length,
      truncated: e.truncated,
      dropped: e.dropped,
      assistantTokens: e.assistantTokens,
    });
  }
  if (encoded.train.examples.length === 0)
    throw new DataError(
      'input-invalid',
      `${config.data}: no training conversation has an assistant token to train on`,
    );
  if (encoded.validation.examples.length === 0)
    throw new DataError(
      'input-invalid',
      `${config.data}: no held-out conversation to evaluate on; import the dataset with a validation share above 0`,
    );
  const runEstimate = estimate(config, model.config, encoded.train);
  if (!runEstimate.fits) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    const batch = largestFittingBatch(model.config, context, runEstimate.availableBytes);
    throw new ConfigError(
      'exceeds-memory',
      `this fine-tune needs about ${gib(runEstimate.memoryBytes)} but ${gib(runEstimate.availableBytes)} is available; ` +
        (batch > 0 ? `use batch_size ${batch}` : 'use a smaller context or method lora'),
    );
  }
  if (config.steps === null && config.warmup_steps > runEstimate.steps)
    throw new ConfigError(
      'conflict',
      `warmup_steps (${config.warmup_steps}) exceeds the run's ${runEstimate.steps} steps`,
    );
  writeFileSync(join(runDir, 'config.yaml'), toYaml(config));

  const scenarios = config.scenarios.length > 0 ? config.scenarios : defaultScenarios(dataset.validation);
  emit({ type: 'finetune-stage', stage: 'evaluate-base' });
  const baseSide = baseEvaluation(
    runDir,
    options.resume === true,
    () => evaluateModel(model, tokenizer, encoded.validation.examples, scenarios, config.scenario_tokens),
    scenarios,
    config.scenario_tokens,
  );
  // The adapter is served on a GGUF of the base: exported now, while the model is still the base.
  const baseGguf =
    config.method === 'lora'
      ? isGgufFile(config.base)
        ? resolve(config.base)
        : await writeBaseGguf(model, tokenizer, base.dir, join(runDir, 'base.gguf'))
      : null;
  if (baseGguf && !isGgufFile(config.base))
    emit({ type: 'artifact-written', kind: 'base-gguf', path: baseGguf });

  emit({ type: 'finetune-stage', stage: 'train' });
  const outcome = train({
    config,
    runDir,
    model,
    tokenizer,
    baseDir: base.dir,
    train: encoded.train,
    validation: encoded.validation,
    estimate: runEstimate,
    options,
    emit,
  });
  const tunedSide = evaluateModel(
    model,
    tokenizer,
    encoded.validation.examples,
    scenarios,
    config.scenario_tokens,
  );

  emit({ type: 'finetune-stage', stage: 'write-outputs' });
  const outputs = await writeFinetuneOutputs({
    config,
    runDir,
    model,
    adapter: outcome.adapter,
    tokenizer,
    baseDir: base.dir,
    baseGguf,
    // Checked in llama.cpp as the served model sees them: one user turn and the generation prompt.
    prompts: scenarios.map((prompt) =>
      tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }),
    ),
    onArtifact: (kind, path) => emit({ type: 'artifact-written', kind, path }),
  });

  emit({ type: 'finetune-stage', stage: 'report' });
  const report = buildReport({
    baseModel: basename(resolve(config.base)),
    tunedModel: basename(runDir),
    dataset: basename(resolve(config.data)),
    scenarios,
    base: baseSide,
    tuned: tunedSide,
  });
  const files: [ArtifactKind, string, string][] = [
    ['report-json', 'report.json', `${JSON.stringify(report, null, 2)}\n`],
    ['report-markdown', 'report.md', renderReportMarkdown(report)],
    ['report-html', 'report.html', renderReportHtml(report)],
    [
      'lineage',
      'lineage.json',
      `${JSON.stringify(
        {
          base: resolve(config.base),
          dataset: resolve(config.data),
          method: config.method,
          hyperparameters: config,
          metrics: {
            steps: outcome.step,
            trainLoss: outcome.loss,
            validationLoss: outcome.validationLoss,
            heldOutAssistantTokens: report.heldOut.assistantTokens,
            perplexity: report.perplexity,
            trainConversations: encoded.train.examples.length,
            truncatedConversations: encoded.train.truncated + encoded.validation.truncated,
          },
          outputs,
        },
        null,
        2,
      )}\n`,
    ],
  ];
  for (const [kind, name, text] of files) {
    writeFileSync(join(runDir, name), text);
    emit({ type: 'artifact-written', kind, path: join(runDir, name) });
  }
  return { out: runDir, outputs, report, finalLoss: outcome.loss, validationLoss: outcome.validationLoss };
}
