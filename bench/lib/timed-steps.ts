// Training steps of the studio's loop (packages/studio/src/train/loop.ts) timed on one fixed batch, for the
// train-throughput and finetune benchmarks: AdamW at a constant learning rate with clipping at norm 1, as
// their PyTorch peers step.
import { memoryStats, resetPeakMemory, type AdamW, type LlamaModel } from '@ownlm/engine';
import { trainLoop } from '../../packages/studio/src/train/loop.ts';

export interface TimedStepsInput {
  model: LlamaModel;
  optimizer: AdamW;
  lr: number;
  inputs: Int32Array;
  targets: Int32Array;
  batch: number;
  seq: number;
  /** Timed steps, after `warmup` untimed ones. */
  steps: number;
  warmup: number;
}

export interface TimedSteps {
  tokensPerSecond: number;
  /** The median of the timed steps. */
  stepSeconds: number;
  /** The loss of every step, warmup included; the first is before any update. */
  losses: number[];
  peakRssBytes: number;
  /** The engine's peak of live tensor buffers (memoryStats().peakLiveBytes) over the timed steps. */
  peakTensorBytes: number;
}

export function timeSteps(input: TimedStepsInput): TimedSteps {
  const { inputs, targets, batch, seq, warmup } = input;
  const times: number[] = [];
  const losses: number[] = [];
  resetPeakMemory();
  let stepStart = performance.now();
  trainLoop({
    model: input.model,
    optimizer: input.optimizer,
    config: {
      seed: 0,
      grad_accumulation: 1,
      grad_clip: 1,
      schedule: 'constant',
      warmup_steps: 0,
      min_lr: input.lr,
      eval_every: 0,
      checkpoint_every: 0,
      checkpoint_minutes: 0,
      keep_checkpoints: 0,
    },
    lr: input.lr,
    steps: warmup + input.steps,
    nextBatch: () => ({ inputs, targets, batch, seq, tokens: batch * seq }),
    emit: (event) => {
      if (event.type !== 'train-step') return;
      losses.push(event.loss);
      if (event.step > warmup) times.push((performance.now() - stepStart) / 1000);
      if (event.step === warmup) resetPeakMemory();
      stepStart = performance.now();
    },
  });
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  return {
    tokensPerSecond: (batch * seq) / median,
    stepSeconds: median,
    losses,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    peakTensorBytes: memoryStats().peakLiveBytes,
  };
}
