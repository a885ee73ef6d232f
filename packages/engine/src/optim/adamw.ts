// AdamW (Loshchilov & Hutter) with PyTorch's update order: decoupled decay on the pre-update weights, bias
// corrections from the step count, per-group weight decay.
import { backend } from '../backend/index.ts';
import type { Tensor } from '../tensor.ts';

export interface ParameterGroup {
  params: Tensor[];
  weightDecay: number;
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** Optimizer state by parameter name, for checkpoints: first and second moments and the step count. */
export interface AdamWState {
  step: number;
  moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Completed steps; the bias corrections use step + 1 on the next update. */
  stepCount = 0;
  private readonly groups: ParameterGroup[];
  private readonly m = new Map<Tensor, Float32Array>();
  private readonly v = new Map<Tensor, Float32Array>();

  constructor(groups: ParameterGroup[], options: AdamWOptions) {
    this.groups = groups;
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    for (const group of groups) {
      for (const p of group.params) {
        this.m.set(p, new Float32Array(p.size));
        this.v.set(p, new Float32Array(p.size));
      }
    }
  }

  /** Applies one update with the current gradients (parameters without a gradient are skipped). */
  step(): void {
    this.stepCount++;
    const bc1 = 1 - Math.pow(this.beta1, this.stepCount);
    const bc2 = 1 - Math.pow(this.beta2, this.stepCount);
    const be = backend();
    for (const group of this.groups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        be.adamwStep(
          p.data,
          p.grad,
          this.m.get(p)!,
          this.v.get(p)!,
          p.size,
          this.lr,
          this.beta1,
          this.beta2,
          this.eps,
          group.weightDecay,
          bc1,
          bc2,
        );
      }
    }
  }

  /** Zeroes every gradient (kept allocated, since the next step needs the same buffers). */
  zeroGrad(): void {
    for (const group of this.groups) for (const p of group.params) p.grad?.fill(0);
  }

  params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  state(): AdamWState {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const p of this.params()) moments.set(requireName(p), { m: this.m.get(p)!, v: this.v.get(p)! });
    return { step: this.stepCount, moments };
  }

  loadState(state: AdamWState): void {
    for (const p of this.params()) {
      const name = requireName(p);
      const saved = state.moments.get(name);
      if (!saved || saved.m.length !== p.size || saved.v.length !== p.size) {
        throw new Error(`optimizer state: moments for '${name}' are missing or have the wrong size`);
      }
      this.m.get(p)!.set(saved.m);
      this.v.get(p)!.set(saved.v);
    }
    this.stepCount = state.step;
  }
}

function requireName(p: Tensor): string {
  if (!p.name) throw new Error('optimizer state: every parameter needs a name');
  return p.name;
}
