// Tensor: contiguous row-major float32 data with a shape, and the autograd tape that records operations on
// tensors for backward(). Ops (ops/*.ts) create outputs with `Tensor.result` and register their backward with
// `record`. Activation buffers come from the memory pool and go back to it as soon as backward has used them.
import { allocate, allocateZeros, release } from './memory.ts';
import { backend } from './backend/index.ts';

export type Shape = readonly number[];

const EMPTY = new Float32Array(0);

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function describe(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  data: Float32Array;
  readonly shape: Shape;
  readonly size: number;
  /** Gradient, allocated on first use in backward; null until then. */
  grad: Float32Array | null = null;
  requiresGrad: boolean;
  /** Number of recorded ops that took this tensor as an input (an op may reuse a buffer with one consumer). */
  consumers = 0;
  /** Checkpoint key for parameters (e.g. `model.layers.0.self_attn.q_proj.weight`). */
  name: string | undefined;
  /** True when data came from the pool and belongs to this tensor (not a view, not user memory). */
  private ownsData: boolean;
  /** The tensor whose data this one views, if any (reshape). */
  private base: Tensor | null = null;

  constructor(data: Float32Array, shape: Shape, options: { requiresGrad?: boolean; name?: string } = {}) {
    if (data.length !== shapeSize(shape)) {
      throw new Error(
        `tensor data has ${data.length} values but shape ${describe(shape)} needs ${shapeSize(shape)}`,
      );
    }
    this.data = data;
    this.shape = [...shape];
    this.size = data.length;
    this.requiresGrad = options.requiresGrad ?? false;
    this.name = options.name;
    this.ownsData = false;
  }

  static zeros(shape: Shape, options: { requiresGrad?: boolean; name?: string } = {}): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape, options);
  }

  static from(values: ArrayLike<number>, shape: Shape = [values.length]): Tensor {
    return new Tensor(Float32Array.from(values), shape);
  }

  /**
   * An op output. When it will be recorded for backward (grad mode on and an input requires grad) its buffer
   * comes from the pool and returns there after backward; otherwise it is ordinary garbage-collected memory.
   */
  static result(shape: Shape, inputs: readonly Tensor[]): Tensor {
    const recorded = gradEnabled && inputs.some((x) => x.requiresGrad);
    const size = shapeSize(shape);
    const t = new Tensor(recorded ? allocate(size) : new Float32Array(size), shape);
    t.ownsData = recorded;
    t.requiresGrad = recorded;
    return t;
  }

  /** A view with another shape over the same data (the sizes must agree). */
  reshape(shape: Shape): Tensor {
    const resolved = resolveShape(shape, this.size);
    const view = new Tensor(this.data, resolved);
    view.base = this;
    view.requiresGrad = gradEnabled && this.requiresGrad;
    if (view.requiresGrad) {
      record([this], view, () => {
        accumulateGrad(this, (dst, accumulate) => {
          if (accumulate) backend().add(dst, view.grad!, dst, this.size);
          else dst.set(view.grad!);
        });
      });
    }
    return view;
  }

  /** Row-major strides in elements: tensors are contiguous, and views (reshape) keep that layout. */
  get strides(): number[] {
    const strides = new Array<number>(this.shape.length);
    let step = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      strides[i] = step;
      step *= this.shape[i];
    }
    return strides;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new Error(`item() needs a one-element tensor, got shape ${describe(this.shape)}`);
    return this.data[0];
  }

  /** Returns pooled memory now instead of waiting for backward or the garbage collector. */
  dispose(): void {
    if (this.ownsData) release(this.data);
    if (this.grad && this.grad !== this.data && !this.isLeaf()) release(this.grad);
    this.ownsData = false;
    this.data = EMPTY;
    this.grad = null;
  }

  /** True for tensors not produced by an op (parameters and inputs); their memory is never pooled. */
  isLeaf(): boolean {
    return !this.ownsData && this.base === null;
  }

  /** Runs backpropagation from this scalar (d this / d this = 1), then frees the tape's activations. */
  backward(): void {
    if (this.size !== 1) throw new Error(`backward() needs a scalar, got shape ${describe(this.shape)}`);
    if (!this.requiresGrad) throw new Error('backward() on a tensor that does not require grad');
    runBackward(this);
  }
}

function resolveShape(shape: Shape, size: number): Shape {
  const unknown = shape.indexOf(-1);
  if (unknown >= 0) {
    const known = shapeSize(shape.filter((_, i) => i !== unknown));
    const out = [...shape];
    out[unknown] = size / known;
    shape = out;
  }
  if (shapeSize(shape) !== size || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`cannot reshape ${size} values to ${describe(shape)}`);
  }
  return shape;
}

// ---- autograd tape -------------------------------------------------------------------------------------

interface TapeNode {
  inputs: readonly Tensor[];
  output: Tensor;
  backward: () => void;
}

let gradEnabled = true;
let tape: TapeNode[] = [];

/** Runs fn with gradient recording off (inference); ops then record nothing and keep nothing for backward. */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Registers an op's backward. Called by ops only when the output requires grad. */
export function record(inputs: readonly Tensor[], output: Tensor, backward: () => void): void {
  for (const input of inputs) input.consumers++;
  tape.push({ inputs, output, backward });
}

/**
 * Gives an op's backward a buffer for the gradient of `t`: a fresh one the op may overwrite
 * (accumulate = false), or t's existing gradient to add into (accumulate = true). Does nothing when t does
 * not require grad.
 */
export function accumulateGrad(t: Tensor, write: (dst: Float32Array, accumulate: boolean) => void): void {
  if (!t.requiresGrad) return;
  if (t.grad === null) {
    t.grad = t.isLeaf() ? new Float32Array(t.size) : allocate(t.size);
    write(t.grad, false);
  } else {
    write(t.grad, true);
  }
}

/**
 * For kernels that can only overwrite: computes into a scratch buffer and adds it to t's gradient when one
 * exists, or writes straight into a new gradient otherwise.
 */
export function addToGrad(t: Tensor, compute: (dst: Float32Array) => void): void {
  accumulateGrad(t, (dst, accumulate) => {
    if (!accumulate) return compute(dst);
    const scratch = allocate(t.size);
    compute(scratch);
    backend().add(dst, scratch, dst, t.size);
    release(scratch);
  });
}

/**
 * A buffer an overwriting kernel can write t's gradient into: t's new gradient buffer when it has none yet,
 * otherwise a scratch buffer. finishGrad(t, buffer) then adds the scratch in and frees it.
 */
export function gradTarget(t: Tensor): Float32Array {
  if (t.requiresGrad && t.grad === null) {
    t.grad = t.isLeaf() ? new Float32Array(t.size) : allocate(t.size);
    return t.grad;
  }
  return allocate(t.size);
}

export function finishGrad(t: Tensor, buffer: Float32Array): void {
  if (buffer === t.grad) return;
  if (t.requiresGrad) backend().add(t.grad!, buffer, t.grad!, t.size);
  release(buffer);
}

function runBackward(root: Tensor): void {
  const nodes = tape;
  tape = [];
  root.grad = allocateZeros(1);
  root.grad[0] = 1;
  try {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (node.output.grad !== null) node.backward();
      // Every consumer of this output ran its backward already (they come later in the tape), so the output's
      // activation and gradient are no longer needed.
      if (node.output !== root) node.output.dispose();
    }
    // The root's value stays readable, in ordinary memory rather than a pooled buffer.
    const value = Float32Array.from(root.data);
    root.dispose();
    root.data = value;
  } finally {
    if (root.grad) release(root.grad);
    root.grad = null;
  }
}

/** Discards recorded operations without running backward (e.g. after a forward pass used only for loss). */
export function clearTape(): void {
  for (const node of tape) node.output.dispose();
  tape = [];
}
