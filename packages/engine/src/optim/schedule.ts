// Learning-rate schedules: linear warmup to the peak, then constant, linear decay or cosine decay to minLr.

export interface Schedule {
  kind: 'constant' | 'linear' | 'cosine';
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  warmupSteps: number;
  /** Total optimizer steps; decay ends here. */
  totalSteps: number;
  /** Final learning rate of the decay (default 0). */
  minLr?: number;
}

/** Learning rate for optimizer step `step` (0-based). */
export function learningRate(schedule: Schedule, step: number): number {
  const { kind, lr, warmupSteps, totalSteps } = schedule;
  const minLr = schedule.minLr ?? 0;
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  if (kind === 'constant') return lr;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / decaySteps);
  if (kind === 'linear') return lr + (minLr - lr) * progress;
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
