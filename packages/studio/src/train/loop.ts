// The one training loop. Pretraining (train/trainer.ts), fine-tuning (finetune/finetune.ts), the tiny-model
// test fixtures and the training benchmarks all step through trainLoop, so a step means the same everywhere.
//
// What optimizer step s (0-based) does, the contract another implementation (the PyTorch worker) follows:
//   1. The learning rate is learningRate(schedule, s) (@ownlm/engine): with warmup_steps W, step s < W gets
//      lr·(s + 1)/W; after that `constant` stays at lr, while `linear` and `cosine` go from lr to min_lr as
//      (s − W)/(steps − W) goes from 0 to 1.
//   2. For each micro-batch m = 0 … grad_accumulation − 1, in order: batch = nextBatch(s, m); its loss is the
//      mean cross-entropy over its targets (−100 is not scored); backward runs on loss / grad_accumulation,
//      so the gradients sum to those of the mean over micro-batches, and the step's loss is the sum of those
//      float32 quotients. Dropout draws come from one engine Random(seed + 1), in the order the forward
//      passes make them; it is never reseeded, and its state is saved in every checkpoint.
//   3. With grad_clip > 0, the gradients of the optimizer's tensors are scaled so that their joint L2 norm is
//      at most grad_clip (PyTorch's clip_grad_norm_: factor grad_clip / (norm + 1e-6), applied only when
//      below 1); the norm before clipping is the step's grad_norm (0 when clipping is off).
//   4. One update of the caller's AdamW (PyTorch's order, decoupled weight decay: on the 2-D weights except
//      the embeddings in LlamaModel.parameterGroups, on every matrix of a LoRA adapter), then every gradient
//      is zeroed.
// Data order: nextBatch must be a function of (seed, s, m) alone; then a run resumed from a checkpoint
// repeats the uninterrupted one bit for bit. Pretraining's micro-batch is TokenShardLoader.batch({ seed,
// step: s·grad_accumulation + m }); fine-tuning's holds the conversations at positions [k·B, (k + 1)·B), k =
// s·grad_accumulation + m, of a sequence of epochs, each a permutation of the training set drawn from (seed,
// epoch).
//
// After each step: a train-step event; the validation loss every eval_every steps and after the last; with a
// run folder, a metrics.jsonl line and a checkpoint every checkpoint_every steps, every checkpoint_minutes
// and after the last step.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import {
  Random,
  clipGradNorm,
  learningRate,
  memoryStats,
  scale,
  type AdamW,
  type LlamaModel,
  type Schedule,
  type Tensor,
} from '@ownlm/engine';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import {
  pruneCheckpoints,
  restoreCheckpoint,
  saveCheckpoint,
  startMetrics,
  type LoadedCheckpoint,
  type TrainerState,
} from './checkpoint.ts';
import type { Preflight } from './preflight.ts';

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

/** The settings the loop reads, named as in TrainConfig and FinetuneConfig (either one is passed whole). */
export interface LoopSettings {
  seed: number;
  grad_accumulation: number;
  /** Maximum global gradient norm; 0 turns clipping off. */
  grad_clip: number;
  schedule: Schedule['kind'];
  warmup_steps: number;
  min_lr: number;
  /** Steps between validations (0: only after the last step). */
  eval_every: number;
  /** Steps between checkpoints (0: only by time and after the last step). */
  checkpoint_every: number;
  /** Minutes between checkpoints (0: not by time). */
  checkpoint_minutes: number;
  /** Newest checkpoints kept, besides the one with the best validation loss. */
  keep_checkpoints: number;
}

/** The settings that change what a step computes (the others say when to evaluate and checkpoint). */
export const loopComputeKeys = [
  'seed',
  'grad_accumulation',
  'grad_clip',
  'schedule',
  'warmup_steps',
  'min_lr',
] as const satisfies readonly (keyof LoopSettings)[];

/** One micro-batch: `batch` rows of `seq` input ids and their next-token targets. */
export interface MicroBatch {
  inputs: Int32Array;
  targets: Int32Array;
  batch: number;
  seq: number;
  /** Input tokens it holds, padding included (for tokens per second). */
  tokens: number;
}

/** Where a run keeps checkpoints and metrics.jsonl. */
export interface RunFolder<C> {
  dir: string;
  /** The checkpoint to continue from (resumableCheckpoint), or null to start at step 0. */
  resumed: LoadedCheckpoint<C> | null;
  /** The tensors a checkpoint saves and restores (default: every model weight; a LoRA run's adapter). */
  weights?: ReadonlyMap<string, Tensor>;
  tokenizer: Tokenizer;
  /** The folder whose tokenizer files are copied into each checkpoint. */
  tokenizerDir: string;
  /** What run-start reports: the memory estimate and the trained parameter count. */
  preflight: Preflight;
  parameters: number;
  /** Fields added to a step's metrics.jsonl line after grad_norm. */
  extraMetrics?: (step: number) => Record<string, number>;
}

export interface TrainLoopInput<C extends LoopSettings> {
  model: LlamaModel;
  optimizer: AdamW;
  config: C;
  /** Peak learning rate of the schedule. */
  lr: number;
  /** Optimizer steps of the whole run (the schedule ends here). */
  steps: number;
  nextBatch: (step: number, micro: number) => MicroBatch;
  /** The held-out loss, computed every eval_every steps and after the last. */
  validationLoss?: () => number;
  /** Runs after a step's metrics are written, before its checkpoint (pretraining's samples). */
  afterStep?: (step: number, last: boolean) => void;
  /**
   * With a run folder, the loop resumes from its checkpoint, writes metrics.jsonl and checkpoints, and emits
   * run-start, checkpoint-saved and run-end besides the train-step and eval-result events.
   */
  run?: RunFolder<C>;
  emit?: (event: TrainEvent) => void;
  /** Once the signal is aborted, the loop checkpoints the steps it did and throws `error` before the next. */
  stop?: { signal: AbortSignal; error: (step: number) => Error };
}

export interface TrainLoopResult {
  /** Optimizer steps completed. */
  step: number;
  /** The last step's loss (on a resumed run with no step left, the one metrics.jsonl logged). */
  loss: number;
  validationLoss: number | null;
  /** The newest checkpoint folder ('' without a run folder). */
  checkpoint: string;
}

function lastLoggedLoss(metricsPath: string): number {
  const lines = existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8').trim().split('\n') : [];
  const last = lines.at(-1);
  return last ? (JSON.parse(last) as { loss: number }).loss : Number.NaN;
}

/** Trains from the run's checkpoint (or step 0) to `steps`; see the contract at the top of this file. */
export function trainLoop<C extends LoopSettings>(input: TrainLoopInput<C>): TrainLoopResult {
  const { model, optimizer, config, steps, run } = input;
  const emit = input.emit ?? (() => {});
  const schedule: Schedule = {
    kind: config.schedule,
    lr: input.lr,
    minLr: config.min_lr,
    warmupSteps: config.warmup_steps,
    totalSteps: steps,
  };
  const dropoutRandom = new Random(config.seed + 1);
  const resumed = run?.resumed ?? null;
  let step = 0;
  let elapsedBefore = 0;
  let validationLoss: number | null = null;
  if (resumed) {
    restoreCheckpoint(resumed, run?.weights ?? model.parameters, optimizer, dropoutRandom);
    step = resumed.state.step;
    elapsedBefore = resumed.state.elapsedSeconds;
    validationLoss = resumed.state.validationLoss;
  }
  const metricsPath = run ? startMetrics(run.dir, resumed ? step : null) : null;
  if (run)
    emit({
      type: 'run-start',
      step,
      steps,
      resumedFrom: resumed?.dir ?? null,
      preflight: run.preflight,
      parameters: run.parameters,
    });

  const started = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  const startStep = step;
  let tokensSinceStart = 0;
  let lastCheckpointTime = performance.now();
  let lastCheckpoint = resumed?.dir ?? '';
  let loss = metricsPath && resumed ? lastLoggedLoss(metricsPath) : Number.NaN;

  const checkpoint = (folder: RunFolder<C>) => {
    const state: Omit<TrainerState<C>, 'format' | 'version' | 'files'> = {
      step,
      config,
      modelConfig: model.config,
      tokenizerSha256: folder.tokenizer.hash,
      randomState: dropoutRandom.state(),
      validationLoss,
      elapsedSeconds: elapsed(),
    };
    lastCheckpoint = saveCheckpoint(folder.dir, {
      model,
      weights: folder.weights,
      optimizer,
      state,
      tokenizer: folder.tokenizer,
      tokenizerDir: folder.tokenizerDir,
    });
    pruneCheckpoints(folder.dir, config.keep_checkpoints);
    lastCheckpointTime = performance.now();
    emit({ type: 'checkpoint-saved', step, dir: lastCheckpoint });
  };

  while (step < steps) {
    if (input.stop?.signal.aborted) {
      if (run && step > startStep) checkpoint(run);
      throw input.stop.error(step);
    }
    optimizer.lr = learningRate(schedule, step);
    loss = 0;
    for (let micro = 0; micro < config.grad_accumulation; micro++) {
      const batch = input.nextBatch(step, micro);
      const microLoss = scale(
        model.loss(batch.inputs, batch.targets, {
          batch: batch.batch,
          seq: batch.seq,
          random: dropoutRandom,
        }),
        1 / config.grad_accumulation,
      );
      loss += microLoss.item();
      microLoss.backward();
      tokensSinceStart += batch.tokens;
    }
    const gradNorm = config.grad_clip > 0 ? clipGradNorm(optimizer.params(), config.grad_clip) : 0;
    optimizer.step();
    optimizer.zeroGrad();
    step++;

    emit({
      type: 'train-step',
      step,
      steps,
      loss,
      lr: optimizer.lr,
      gradNorm,
      tokensPerSecond: tokensSinceStart / ((performance.now() - started) / 1000),
      elapsedSeconds: elapsed(),
      peakTensorBytes: memoryStats().peakLiveBytes,
    });
    const last = step === steps;
    let metrics: Record<string, number> = {
      step,
      loss,
      lr: optimizer.lr,
      grad_norm: gradNorm,
      ...run?.extraMetrics?.(step),
    };
    if (input.validationLoss && ((config.eval_every > 0 && step % config.eval_every === 0) || last)) {
      validationLoss = input.validationLoss();
      metrics = { ...metrics, validation_loss: validationLoss };
      emit({ type: 'eval-result', step, validationLoss });
    }
    if (metricsPath) appendFileSync(metricsPath, `${JSON.stringify(metrics)}\n`);
    input.afterStep?.(step, last);
    const dueBySteps = config.checkpoint_every > 0 && step % config.checkpoint_every === 0;
    const dueByTime =
      config.checkpoint_minutes > 0 &&
      performance.now() - lastCheckpointTime >= config.checkpoint_minutes * 60_000;
    if (run && (dueBySteps || dueByTime || last)) checkpoint(run);
  }
  if (run) {
    if (!lastCheckpoint) checkpoint(run);
    emit({ type: 'run-end', step, loss, validationLoss, checkpoint: lastCheckpoint });
  }
  return { step, loss, validationLoss, checkpoint: lastCheckpoint };
}
