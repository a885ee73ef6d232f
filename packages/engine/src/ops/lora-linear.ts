// A Linear layer with a LoRA update as one autograd op. Built from generic ops (dropout, linear, scale, add)
// every adapted projection kept a dropped-out copy of its input, the base output and the sum alive until
// backward; this op keeps only the [rows, r] product u = dropout(x)·Aᵀ and the indices dropout zeroed.
import { backend } from '../backend/index.ts';
import { allocate, release } from '../memory.ts';
import type { Random } from '../random.ts';
import { Tensor, accumulateGrad, record } from '../tensor.ts';

/** Dropout on the adapter's input: each value kept with probability 1 − rate and scaled by 1/(1 − rate). */
export interface LoraDropout {
  rate: number;
  random: Random;
}

/** C = alpha·op(A)·op(B) + beta·C on unpadded row-major matrices (beta 0 ignores C's old contents). */
function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): void {
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  backend().gemm({ transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc: n });
}

/**
 * The indices of the values of x that dropout zeroes: the same draws, in the same order, as ops/dropout.ts.
 * At LoRA's usual rates (0.05–0.1) the list costs 0.2–0.4 bytes per value (a bitset 0.125), and unlike a
 * bitset it lets every dense pass over x run in the backend's kernels, leaving only the dropped values to a
 * loop here.
 */
function drawDropped(size: number, { rate, random }: LoraDropout): Int32Array {
  let dropped = new Int32Array(Math.ceil(size * rate * 1.25) + 16);
  let count = 0;
  for (let i = 0; i < size; i++) {
    if (random.uniform() >= rate) continue;
    if (count === dropped.length) {
      const grown = new Int32Array(2 * count);
      grown.set(dropped);
      dropped = grown;
    }
    dropped[count++] = i;
  }
  return dropped.slice(0, count);
}

/** out = x · keep, zero at the dropped indices. */
function applyDropout(x: Float32Array, dropped: Int32Array, keep: number, out: Float32Array): void {
  out.set(x);
  backend().scale(out, keep, out.length);
  for (let j = 0; j < dropped.length; j++) out[dropped[j]] = 0;
}

/**
 * x [..., in]·weightᵀ + scaling·(dropout(x)·aᵀ)·bᵀ with weight [out, in], a [r, in] and b [out, r]: PEFT's
 * LoRA Linear. Without dropout (null or rate 0) the generator is untouched; with it, rows·in uniforms are drawn
 * in x's order, as dropout() draws them. Gradients go to every input that requires one, weight included.
 */
export function loraLinear(
  x: Tensor,
  weight: Tensor,
  a: Tensor,
  b: Tensor,
  scaling: number,
  dropout: LoraDropout | null,
): Tensor {
  const inFeatures = x.shape[x.shape.length - 1];
  const [out, r] = b.shape;
  if (
    weight.shape.join() !== `${out},${inFeatures}` ||
    a.shape.join() !== `${r},${inFeatures}` ||
    b.shape.length !== 2
  ) {
    throw new Error(
      `loraLinear: x [${x.shape.join(', ')}], weight [${weight.shape.join(', ')}], ` +
        `a [${a.shape.join(', ')}] and b [${b.shape.join(', ')}] do not fit [..., in], [out, in], [r, in], [out, r]`,
    );
  }
  if (dropout && !(dropout.rate >= 0 && dropout.rate < 1))
    throw new Error(`loraLinear: dropout ${dropout.rate} must be in [0, 1)`);
  const rows = x.size / inFeatures;
  const y = Tensor.result([...x.shape.slice(0, -1), out], [x, weight, a, b]);
  gemm(false, true, rows, out, inFeatures, 1, x.data, weight.data, 0, y.data);

  const dropped = dropout && dropout.rate > 0 ? drawDropped(x.size, dropout) : null;
  // float32 like dropout()'s mask values, so the dropped-out input is bit for bit the same.
  const keep = dropout ? Math.fround(1 / (1 - dropout.rate)) : 1;
  const u = allocate(rows * r); // dropout(x)·aᵀ [rows, r]
  if (dropped) {
    const input = allocate(x.size);
    applyDropout(x.data, dropped, keep, input);
    gemm(false, true, rows, r, inFeatures, 1, input, a.data, 0, u);
    release(input);
  } else {
    gemm(false, true, rows, r, inFeatures, 1, x.data, a.data, 0, u);
  }
  gemm(false, true, rows, out, r, scaling, u, b.data, 1, y.data);
  if (!y.requiresGrad) {
    release(u);
    return y;
  }

  record([x, weight, a, b], y, () => {
    const dy = y.grad!;
    accumulateGrad(b, (db, acc) => gemm(true, false, out, r, rows, scaling, dy, u, acc ? 1 : 0, db));
    accumulateGrad(weight, (dw, acc) =>
      gemm(true, false, out, inFeatures, rows, 1, dy, x.data, acc ? 1 : 0, dw),
    );
    if (!a.requiresGrad && !x.requiresGrad) return release(u);
    const g = allocate(rows * r); // dy·b [rows, r], the gradient of u before scaling
    gemm(false, false, rows, r, out, 1, dy, b.data, 0, g);
    // One [rows, in] scratch, only while this backward runs: dropout(x) for a's gradient, then the masked
    // part of x's.
    const scratch = dropped ? allocate(x.size) : null;
    accumulateGrad(a, (da, acc) => {
      if (scratch) applyDropout(x.data, dropped!, keep, scratch);
      gemm(true, false, r, inFeatures, rows, scaling, g, scratch ?? x.data, acc ? 1 : 0, da);
    });
    accumulateGrad(x, (dx, acc) => {
      gemm(false, false, rows, inFeatures, out, 1, dy, weight.data, acc ? 1 : 0, dx);
      if (!scratch) return gemm(false, false, rows, inFeatures, r, scaling, g, a.data, 1, dx);
      gemm(false, false, rows, inFeatures, r, scaling * keep, g, a.data, 0, scratch);
      for (let j = 0; j < dropped!.length; j++) scratch[dropped![j]] = 0;
      backend().add(dx, scratch, dx, x.size);
    });
    if (scratch) release(scratch);
    release(g);
    release(u);
  });
  return y;
}
