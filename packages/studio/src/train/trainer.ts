// Pretraining on packed token shards with the engine: micro-batches with gradient accumulation, global-norm
// clipping, AdamW on a warmup + decay schedule, periodic validation and samples, checkpoints every N steps and
// every M minutes, and exact resume. Everything a step does is a function of (config, step, checkpointed
// state): batches come from (seed, step), so a resumed run repeats the uninterrupted one bit for bit.
//
// Progress goes out as events (the CLI draws a bar; a job runner forwards them) and into metrics.jsonl.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import {
  AdamW,
  LlamaModel,
  Random,
  backend,
  clipGradNorm,
  generateTokens,
  learningRate,
  memoryStats,
  noGrad,
  scale,
  type Schedule,
} from '@ownlm/engine';
import { stringify as toYaml } from 'yaml';
import { TokenShardLoader } from '../data/token-shards.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import {
  checkResumable,
  loadLatestCheckpoint,
  pruneCheckpoints,
  removePartialCheckpoints,
  saveCheckpoint,
  restoreCheckpoint,
  startMetrics,
  type TrainerState,
} from './checkpoint.ts';
import { ConfigError, modelConfig, type TrainConfig } from './config.ts';
import { largestFittingBatch, preflight, type Preflight } from './preflight.ts';

export type TrainEvent =
  | {
      type: 'run-start';
      step: number;
      steps: number;
      resumedFrom: string | null;
      preflight: Preflight;
      parameters: number;
    }
  | {
      type: 'train-step';
      step: number;
      steps: number;
      loss: number;
      lr: number;
      gradNorm: number;
      tokensPerSecond: number;
      elapsedSeconds: number;
      peakTensorBytes: number;
    }
  | { type: 'eval-result'; step: number; validationLoss: number }
  | { type: 'sample-text'; step: number; prompt: string; text: string }
  | { type: 'checkpoint-saved'; step: number; dir: string }
  | { type: 'checkpoint-rejected'; dir: string; reason: string }
  | { type: 'run-end'; step: number; loss: number; validationLoss: number | null; checkpoint: string };

export interface RunOptions {
  /** Continue from the newest good checkpoint in config.out (a fresh start when there is none). */
  resume?: boolean;
  onEvent?: (event: TrainEvent) => void;
}

export interface RunResult {
  finalLoss: number;
  validationLoss: number | null;
  checkpoint: string;
  model: LlamaModel;
  tokenizer: Tokenizer;
}

/** Keys that change what is computed: a resumed run must use the values it started with. */
const computeKeys: (keyof TrainConfig)[] = [
  'data',
  'tokenizer',
  'model',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'rope_theta',
  'tie_word_embeddings',
  'context',
  'batch_size',
  'grad_accumulation',
  'steps',
  'lr',
  'min_lr',
  'warmup_steps',
  'schedule',
  'weight_decay',
  'beta1',
  'beta2',
  'grad_clip',
  'dropout',
  'seed',
];

function scheduleOf(config: TrainConfig): Schedule {
  return {
    kind: config.schedule,
    lr: config.lr,
    minLr: config.min_lr,
    warmupSteps: config.warmup_steps,
    totalSteps: config.steps,
  };
}

function validationLoss(model: LlamaModel, loader: TokenShardLoader, config: TrainConfig): number {
  let total = 0;
  for (let i = 0; i < config.eval_batches; i++) {
    // A fixed set of validation windows (its own seed), the same at every evaluation and across resumes.
    const { inputs, targets } = loader.batch({
      seed: config.seed + 7919,
      step: i,
      batchSize: config.batch_size,
      seqLen: config.context,
    });
    total += noGrad(() =>
      model.loss(inputs, targets, { batch: config.batch_size, seq: config.context }).item(),
    );
  }
  return total / config.eval_batches;
}

function sample(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompt: string,
  config: TrainConfig,
  step: number,
): string {
  const ids = tokenizer.encode(prompt);
  const room = config.context - ids.length;
  if (ids.length === 0 || room <= 0) return '';
  const stop = tokenizer.eosId === null ? [] : [tokenizer.eosId];
  const tokens = [
    ...generateTokens(model, ids, {
      maxNewTokens: Math.min(config.sample_tokens, room),
      temperature: 0.8,
      topK: 40,
      seed: config.seed + step,
      stopTokens: stop,
    }),
  ];
  return tokenizer.decode(tokens.filter((t) => !stop.includes(t)));
}

export function runTraining(config: TrainConfig, options: RunOptions = {}): RunResult {
  const emit = options.onEvent ?? (() => {});
  const runDir = resolve(config.out);
  mkdirSync(runDir, { recursive: true });
  removePartialCheckpoints(runDir);

  const resumed = options.resume
    ? loadLatestCheckpoint(runDir, (dir, reason) => emit({ type: 'checkpoint-rejected', dir, reason }))
    : null;
  if (resumed) checkResumable(resumed, config, computeKeys);

  backend().setThreads(config.threads > 0 ? config.threads : availableParallelism());
  const tokenizer = Tokenizer.fromFile(config.tokenizer);
  const loaders = {
    train: new TokenShardLoader(config.data, 'train', { tokenizerHash: tokenizer.hash }),
    validation: new TokenShardLoader(config.data, 'validation', { tokenizerHash: tokenizer.hash }),
  };
  const shape = modelConfig(config, tokenizer.vocabSize);
  const check = preflight(shape, config.batch_size, config.context, config.grad_accumulation);
  if (!check.fits) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    const batch = largestFittingBatch(shape, config.context, check.availableBytes);
    throw new ConfigError(
      `this run needs about ${gib(check.totalBytes)} but ${gib(check.availableBytes)} is available; ` +
        (batch > 0
          ? `use batch_size ${batch} (with grad_accumulation ${Math.ceil(config.batch_size / batch)} to keep the tokens per step)`
          : 'use a smaller context or model'),
    );
  }

  const model = new LlamaModel(shape, { seed: config.seed, dropout: config.dropout });
  const optimizer = new AdamW(model.parameterGroups(config.weight_decay), {
    lr: config.lr,
    beta1: config.beta1,
    beta2: config.beta2,
  });
  const dropoutRandom = new Random(config.seed + 1);
  let step = 0;
  let elapsedBefore = 0;
  let lastValidation: number | null = null;
  if (resumed) {
    restoreCheckpoint(resumed, model.parameters, optimizer, dropoutRandom);
    step = resumed.state.step;
    elapsedBefore = resumed.state.elapsedSeconds;
    lastValidation = resumed.state.validationLoss;
  }
  const metricsPath = startMetrics(runDir, resumed ? step : null);
  writeFileSync(join(runDir, 'config.yaml'), toYaml(config));
  emit({
    type: 'run-start',
    step,
    steps: config.steps,
    resumedFrom: resumed?.dir ?? null,
    preflight: check,
    parameters: check.parameters,
  });

  const started = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  const tokensPerStep = config.batch_size * config.context * config.grad_accumulation;
  const startStep = step;
  let lastCheckpointTime = performance.now();
  let lastCheckpoint = resumed?.dir ?? '';
  let loss = Number.NaN;
  const schedule = scheduleOf(config);

  const checkpoint = () => {
    const state: Omit<TrainerState, 'format' | 'version' | 'files'> = {
      step,
      config,
      modelConfig: model.config,
      tokenizerSha256: tokenizer.hash,
      randomState: dropoutRandom.state(),
      validationLoss: lastValidation,
      elapsedSeconds: elapsed(),
    };
    lastCheckpoint = saveCheckpoint(runDir, {
      model,
      optimizer,
      state,
      tokenizer,
      tokenizerDir: config.tokenizer,
    });
    pruneCheckpoints(runDir, config.keep_checkpoints);
    lastCheckpointTime = performance.now();
    emit({ type: 'checkpoint-saved', step, dir: lastCheckpoint });
  };

  while (step < config.steps) {
    optimizer.lr = learningRate(schedule, step);
    loss = 0;
    for (let micro = 0; micro < config.grad_accumulation; micro++) {
      const { inputs, targets } = loaders.train.batch({
        seed: config.seed,
        step: step * config.grad_accumulation + micro,
        batchSize: config.batch_size,
        seqLen: config.context,
      });
      // The step's loss is the mean over micro-batches, so each contributes 1/accumulation of its gradient.
      const microLoss = scale(
        model.loss(inputs, targets, { batch: config.batch_size, seq: config.context, random: dropoutRandom }),
        1 / config.grad_accumulation,
      );
      loss += microLoss.item();
      microLoss.backward();
    }
    const gradNorm = config.grad_clip > 0 ? clipGradNorm(optimizer.params(), config.grad_clip) : 0;
    optimizer.step();
    optimizer.zeroGrad();
    step++;

    const event = {
      type: 'train-step' as const,
      step,
      steps: config.steps,
      loss,
      lr: optimizer.lr,
      gradNorm,
      tokensPerSecond: ((step - startStep) * tokensPerStep) / ((performance.now() - started) / 1000),
      elapsedSeconds: elapsed(),
      peakTensorBytes: memoryStats().peakLiveBytes,
    };
    emit(event);
    const last = step === config.steps;
    let metrics: Record<string, number> = {
      step,
      loss,
      lr: event.lr,
      grad_norm: gradNorm,
      tokens: step * tokensPerStep,
    };
    if ((config.eval_every > 0 && step % config.eval_every === 0) || last) {
      lastValidation = validationLoss(model, loaders.validation, config);
      metrics = { ...metrics, validation_loss: lastValidation };
      emit({ type: 'eval-result', step, validationLoss: lastValidation });
    }
    appendFileSync(metricsPath, `${JSON.stringify(metrics)}\n`);
    if (config.sample_every > 0 && (step % config.sample_every === 0 || last)) {
      for (const prompt of config.sample_prompts)
        emit({ type: 'sample-text', step, prompt, text: sample(model, tokenizer, prompt, config, step) });
    }
    const dueBySteps = config.checkpoint_every > 0 && step % config.checkpoint_every === 0;
    const dueByTime =
      config.checkpoint_minutes > 0 &&
      performance.now() - lastCheckpointTime >= config.checkpoint_minutes * 60_000;
    if (dueBySteps || dueByTime || last) checkpoint();
  }
  if (!lastCheckpoint) checkpoint();
  emit({ type: 'run-end', step, loss, validationLoss: lastValidation, checkpoint: lastCheckpoint });
  return { finalLoss: loss, validationLoss: lastValidation, checkpoint: lastCheckpoint, model, tokenizer };
}
