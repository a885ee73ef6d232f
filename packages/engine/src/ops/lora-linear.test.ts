// The fused LoRA Linear: against the generic ops it replaces (dropout, linear, scale, add) on the same
// generator, forward and every gradient; against a plain-loop formula and finite differences (checkOp); base
// weight frozen and trainable; and what it keeps alive for backward.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryStats } from '../memory.ts';
import { Random } from '../random.ts';
import { Tensor, noGrad } from '../tensor.ts';
import { assertClose, checkOp } from '../testing/check-op.ts';
import { dropout } from './dropout.ts';
import { add, scale } from './elementwise.ts';
import { loraLinear } from './lora-linear.ts';
import { linear } from './matmul.ts';

const SCALING = 1.7;
const RATE = 0.5;

/** The adapter path as it was composed of generic ops: the reference the fused op must equal. */
function composed(x: Tensor, w: Tensor, a: Tensor, b: Tensor, random: Random | null): Tensor {
  const input = random ? dropout(x, RATE, random) : x;
  return add(linear(x, w), linear(scale(linear(input, a), SCALING), b));
}

const fused = (x: Tensor, w: Tensor, a: Tensor, b: Tensor, random: Random | null) =>
  loraLinear(x, w, a, b, SCALING, random ? { rate: RATE, random } : null);

/** y = x·Wᵀ + s·(mask⊙x/(1−p))·Aᵀ·Bᵀ by plain loops in double precision, mask drawn as dropout() draws it. */
function formula(
  x: Float32Array,
  w: Float32Array,
  a: Float32Array,
  b: Float32Array,
  [rows, inFeatures, out, r]: number[],
  random: Random | null,
): Float64Array {
  const dropped = Float64Array.from(x, (v) => (random ? (random.uniform() >= RATE ? v / (1 - RATE) : 0) : v));
  const y = new Float64Array(rows * out);
  for (let i = 0; i < rows; i++) {
    const u = new Float64Array(r);
    for (let k = 0; k < r; k++)
      for (let j = 0; j < inFeatures; j++) u[k] += dropped[i * inFeatures + j] * a[k * inFeatures + j];
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let j = 0; j < inFeatures; j++) s += x[i * inFeatures + j] * w[o * inFeatures + j];
      for (let k = 0; k < r; k++) s += SCALING * u[k] * b[o * r + k];
      y[i * out + o] = s;
    }
  }
  return y;
}

function randomTensor(shape: number[], random: Random, requiresGrad: boolean): Tensor {
  const data = random.fillNormal(new Float32Array(shape.reduce((p, d) => p * d, 1)), 1);
  return new Tensor(data, shape, { requiresGrad });
}

/**
 * y = op(x, …) + op(x, …) (two calls, so every gradient is also accumulated into) and the gradients of x, W,
 * A and B for loss = Σ y·weights.
 */
function run(
  op: typeof fused,
  inputs: Tensor[],
  random: Random | null,
): { y: Float32Array; grads: (Float32Array | null)[] } {
  for (const t of inputs) t.grad = null;
  const [x, w, a, b] = inputs;
  const y = add(op(x, w, a, b, random), op(x, w, a, b, random));
  const values = Float32Array.from(y.data);
  const weights = Tensor.from(
    Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)),
    y.shape,
  );
  // Σ y·weights through engine ops, which both sides share.
  linear(y.reshape([1, y.size]), weights.reshape([1, y.size])).backward();
  return { y: values, grads: inputs.map((t) => t.grad && Float32Array.from(t.grad)) };
}

describe('loraLinear', () => {
  const shapes: [number, number, number, number][] = [];
  for (const rows of [1, 7, 13])
    for (const inFeatures of [5, 33])
      for (const out of [3, 17]) for (const r of [1, 3]) shapes.push([rows, inFeatures, out, r]);

  for (const withDropout of [false, true])
    for (const frozen of [true, false])
      test(`equals the composed ops, forward and gradients (dropout ${withDropout}, W frozen ${frozen})`, () => {
        const random = new Random(1);
        for (const [rows, inFeatures, out, r] of shapes) {
          const what = `rows ${rows} in ${inFeatures} out ${out} r ${r}`;
          const inputs = [
            randomTensor([rows, inFeatures], random, true),
            randomTensor([out, inFeatures], random, !frozen),
            randomTensor([r, inFeatures], random, true),
            randomTensor([out, r], random, true),
          ];
          const generator = (seed: number) => (withDropout ? new Random(seed) : null);
          const reference = run(composed, inputs, generator(rows * 100 + inFeatures));
          const afterComposed = generator(rows * 100 + inFeatures);
          const actual = run(fused, inputs, afterComposed);
          // Same products; the fused op scales inside the GEMM and accumulates into y instead of adding a
          // separate sum: float32 reassociation of sums near 1–10, a few ulps.
          const tol = { atol: 1e-5, rtol: 1e-5 };
          assertClose(actual.y, reference.y, tol, `${what}: y`);
          ['x', 'W', 'A', 'B'].forEach((name, i) => {
            if (frozen && name === 'W') return assert.equal(actual.grads[i], null, `${what}: frozen W`);
            assertClose(actual.grads[i]!, reference.grads[i]!, tol, `${what}: gradient of ${name}`);
          });
          if (afterComposed) {
            const replay = generator(rows * 100 + inFeatures)!;
            for (let i = 0; i < 2 * rows * inFeatures; i++) replay.uniform();
            assert.deepEqual(afterComposed.state(), replay.state(), `${what}: one draw per input value`);
          }
        }
      });

  for (const withDropout of [false, true])
    for (const [rows, inFeatures, out, r] of [
      [1, 5, 3, 1],
      [7, 33, 17, 3],
      [13, 5, 17, 1],
      [13, 33, 3, 3],
    ])
      for (const frozen of [true, false])
        test(`formula and finite differences [${rows}×${inFeatures}] → ${out}, r ${r}, dropout ${withDropout}, W frozen ${frozen}`, () => {
          const seed = rows + inFeatures;
          // A fresh generator per evaluation, so every finite-difference probe sees the same mask.
          const generator = () => (withDropout ? new Random(seed) : null);
          checkOp({
            inputs: [
              { shape: [rows, inFeatures] },
              { shape: [out, inFeatures], grad: !frozen },
              { shape: [r, inFeatures] },
              { shape: [out, r] },
            ],
            forward: (x, w, a, b) => fused(x, w, a, b, generator()),
            shape: [rows, out],
            expected: (x, w, a, b) => formula(x, w, a, b, [rows, inFeatures, out, r], generator()),
          });
        });

  test('leading dimensions: x [2, 3, in] gives [2, 3, out]', () => {
    checkOp({
      inputs: [{ shape: [2, 3, 5] }, { shape: [4, 5], grad: false }, { shape: [2, 5] }, { shape: [4, 2] }],
      forward: (x, w, a, b) => fused(x, w, a, b, new Random(3)),
      shape: [2, 3, 4],
      expected: (x, w, a, b) => formula(x, w, a, b, [6, 5, 4, 2], new Random(3)),
    });
  });

  test('keeps only y and the [rows, r] product until backward; no buffer without grad', () => {
    const random = new Random(5);
    const [rows, inFeatures, out, r] = [13, 33, 17, 3];
    const x = randomTensor([rows, inFeatures], random, true);
    const w = randomTensor([out, inFeatures], random, false);
    const a = randomTensor([r, inFeatures], random, true);
    const b = randomTensor([out, r], random, true);
    const before = memoryStats().liveBytes;
    noGrad(() => fused(x, w, a, b, new Random(6)));
    assert.equal(memoryStats().liveBytes, before, 'inference keeps no pooled buffer');
    const y = fused(x, w, a, b, new Random(6));
    assert.equal(memoryStats().liveBytes - before, (rows * out + rows * r) * 4, 'y and u only');
    linear(y.reshape([1, -1]), Tensor.zeros([1, rows * out])).backward();
    assert.equal(memoryStats().liveBytes, before, 'backward returns everything');
    assert.equal(w.grad, null, 'no gradient for the frozen base weight');
  });

  test('mismatched shapes and rates are rejected', () => {
    const t = (shape: number[]) => Tensor.zeros(shape);
    assert.throws(() => loraLinear(t([2, 5]), t([3, 4]), t([1, 5]), t([3, 1]), 1, null), /do not fit/);
    assert.throws(() => loraLinear(t([2, 5]), t([3, 5]), t([2, 5]), t([3, 1]), 1, null), /do not fit/);
    const random = new Random(0);
    assert.throws(
      () => loraLinear(t([2, 5]), t([3, 5]), t([1, 5]), t([3, 1]), 1, { rate: 1, random }),
      /dropout 1/,
    );
  });
});
