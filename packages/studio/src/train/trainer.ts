// The pretraining loop on the engine: micro-batches with gradient accumulation, global-norm clipping, AdamW on
// a warmup + decay schedule, periodic validation and samples. Progress goes to a callback as events, so the CLI
// can draw a bar and a job runner can forward them.
import {
  AdamW,
  LlamaModel,
  clipGradNorm,
  learningRate,
  memoryStats,
  noGrad,
  scale,
  type Schedule,
} from '@ownlm/engine';

/** Where training batches come from: a deterministic function of the step, so a resumed run sees the same data. */
export interface BatchSource {
  /** inputs and next-token targets, each batch × seq ids laid out [batch, seq]. */
  batch(step: number, microStep: number): { inputs: Int32Array; targets: Int32Array };
}

export interface TrainOptions {
  batch: number;
  seq: number;
  /** Optimizer steps. */
  steps: number;
  /** Micro-batches per optimizer step (gradient accumulation). */
  accumulation: number;
  schedule: Schedule;
  weightDecay: number;
  /** Max global gradient norm (0 = no clipping). */
  clip: number;
  beta1?: number;
  beta2?: number;
  /** Run validation every N steps (0 = only at the end). */
  evalEvery: number;
  /** Validation batches per evaluation. */
  evalBatches: number;
}

export type TrainEvent =
  | {
      type: 'train-step';
      step: number;
      steps: number;
      loss: number;
      lr: number;
      gradNorm: number;
      tokensPerSecond: number;
      peakTensorBytes: number;
    }
  | { type: 'eval-result'; step: number; validationLoss: number };

export interface TrainResult {
  finalLoss: number;
  validationLoss: number | null;
}

function validationLoss(model: LlamaModel, source: BatchSource, options: TrainOptions): number {
  let total = 0;
  for (let i = 0; i < options.evalBatches; i++) {
    const { inputs, targets } = source.batch(i, 0);
    total += noGrad(() => model.loss(inputs, targets, { batch: options.batch, seq: options.seq }).item());
  }
  return total / options.evalBatches;
}

/** Trains `model` in place for options.steps optimizer steps. */
export function train(
  model: LlamaModel,
  data: { train: BatchSource; validation?: BatchSource },
  options: TrainOptions,
  onEvent: (event: TrainEvent) => void = () => {},
): TrainResult {
  const optimizer = new AdamW(model.parameterGroups(options.weightDecay), {
    lr: options.schedule.lr,
    beta1: options.beta1,
    beta2: options.beta2 ?? 0.95,
  });
  const tokensPerStep = options.batch * options.seq * options.accumulation;
  let lastLoss = Number.NaN;
  let lastValidation: number | null = null;
  const started = performance.now();
  for (let step = 0; step < options.steps; step++) {
    optimizer.lr = learningRate(options.schedule, step);
    let loss = 0;
    for (let micro = 0; micro < options.accumulation; micro++) {
      const { inputs, targets } = data.train.batch(step, micro);
      // The step's loss is the mean over micro-batches, so each one contributes 1/accumulation of its gradient.
      const l = scale(
        model.loss(inputs, targets, { batch: options.batch, seq: options.seq }),
        1 / options.accumulation,
      );
      loss += l.item();
      l.backward();
    }
    const gradNorm = options.clip > 0 ? clipGradNorm(optimizer.params(), options.clip) : 0;
    optimizer.step();
    optimizer.zeroGrad();
    lastLoss = loss;
    const elapsed = (performance.now() - started) / 1000;
    onEvent({
      type: 'train-step',
      step: step + 1,
      steps: options.steps,
      loss,
      lr: optimizer.lr,
      gradNorm,
      tokensPerSecond: ((step + 1) * tokensPerStep) / elapsed,
      peakTensorBytes: memoryStats().peakLiveBytes,
    });
    const last = step + 1 === options.steps;
    if (data.validation && ((options.evalEvery > 0 && (step + 1) % options.evalEvery === 0) || last)) {
      lastValidation = validationLoss(model, data.validation, options);
      onEvent({ type: 'eval-result', step: step + 1, validationLoss: lastValidation });
    }
  }
  return { finalLoss: lastLoss, validationLoss: lastValidation };
}
