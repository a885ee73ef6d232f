// One op test is one call: checkOp runs an op on seeded random inputs and checks the output shape, the
// forward values against an independent formula, the backward against central finite differences, and —
// when the native backend is active — forward and backward against the reference backend.
import assert from 'node:assert/strict';
import { backend, createReferenceBackend, useBackend } from '../backend/index.ts';
import type { Backend } from '../backend/backend.ts';
import { Random } from '../random.ts';
import { Tensor, accumulateGrad, noGrad, record } from '../tensor.ts';

export interface OpInput {
  shape: number[];
  /** Whether the gradient of this input is checked (default true). */
  grad?: boolean;
  /** Standard deviation of the normal initial values (default 1). */
  std?: number;
  /** Custom initial values (e.g. positive weights). */
  init?: (random: Random, index: number) => number;
}

export interface OpCheck {
  inputs: OpInput[];
  forward: (...inputs: Tensor[]) => Tensor;
  shape: number[];
  /** An independent formula for the output from the input values, computed without the engine. */
  expected?: (...inputs: Float32Array[]) => ArrayLike<number>;
  /** Forward tolerance against `expected` (default 1e-5 abs + 1e-4 rel: float32 rounding of short sums). */
  forwardTolerance?: Tolerance;
  /**
   * Finite-difference tolerance. Default eps 1e-2 on unit-scale inputs: truncation error O(eps²) ≈ 1e-4, and
   * float32 rounding of the loss divided by 2·eps ≈ 1e-4; so 2e-3 absolute + 2e-2 relative.
   */
  finiteDifference?: { eps?: number } & Tolerance;
  /** Coordinates per input probed by finite differences (default 12). */
  samples?: number;
  seed?: number;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const ok = Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok || Number.isNaN(a) !== Number.isNaN(e)) {
      assert.fail(`${what}: index ${i}: got ${a}, expected ${e} (atol ${tol.atol}, rtol ${tol.rtol})`);
    }
  }
}

function makeInputs(check: OpCheck, random: Random): Tensor[] {
  return check.inputs.map((spec) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++)
      data[i] = spec.init ? spec.init(random, i) : random.normal() * (spec.std ?? 1);
    return new Tensor(data, spec.shape, { requiresGrad: spec.grad ?? true });
  });
}

/** Output and input gradients of loss = Σ out·weights, on the given backend. */
function run(
  check: OpCheck,
  be: Backend,
  inputs: Tensor[],
  weights: Float32Array,
): { out: Float32Array; grads: (Float32Array | null)[] } {
  const previous = backend();
  useBackend(be);
  try {
    for (const x of inputs) x.grad = null;
    const out = check.forward(...inputs);
    assert.deepEqual([...out.shape], check.shape, 'output shape');
    const values = Float32Array.from(out.data);
    const loss = weightedSum(out, weights);
    loss.backward();
    return { out: values, grads: inputs.map((x) => (x.grad ? Float32Array.from(x.grad) : null)) };
  } finally {
    useBackend(previous);
  }
}

function weightedSum(out: Tensor, weights: Float32Array): Tensor {
  // Σ out·w built from engine ops would test those ops too; a dedicated node keeps this independent.
  const loss = Tensor.result([1], [out]);
  let s = 0;
  for (let i = 0; i < out.size; i++) s += out.data[i] * weights[i];
  loss.data[0] = s;
  if (!loss.requiresGrad) return loss;
  record([out], loss, () => {
    const g = loss.grad![0];
    accumulateGrad(out, (d, acc) => {
      for (let i = 0; i < out.size; i++) d[i] = (acc ? d[i] : 0) + g * weights[i];
    });
  });
  return loss;
}

function lossValue(check: OpCheck, inputs: Tensor[], weights: Float32Array): number {
  return noGrad(() => {
    const out = check.forward(...inputs);
    let s = 0;
    for (let i = 0; i < out.size; i++) s += out.data[i] * weights[i];
    return s;
  });
}

export function checkOp(check: OpCheck): void {
  const random = new Random(check.seed ?? 1234);
  const inputs = makeInputs(check, random);
  const outSize = check.shape.reduce((a, b) => a * b, 1);
  const weights = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) weights[i] = random.normal();

  const active = backend();
  const result = run(check, active, inputs, weights);

  if (check.expected) {
    const tol = check.forwardTolerance ?? { atol: 1e-5, rtol: 1e-4 };
    assertClose(result.out, check.expected(...inputs.map((x) => x.data)), tol, 'forward vs formula');
  }

  const reference = active.name === 'reference' ? active : createReferenceBackend();
  if (active.name !== 'reference') {
    const ref = run(check, reference, inputs, weights);
    // Native kernels block and vectorize sums differently: float32 reassociation, well under 1e-4 relative.
    const tol = { atol: 1e-4, rtol: 1e-4 };
    assertClose(result.out, ref.out, tol, `forward ${active.name} vs reference`);
    result.grads.forEach((g, i) => {
      if (g && ref.grads[i])
        assertClose(g, ref.grads[i]!, tol, `gradient of input ${i} ${active.name} vs reference`);
    });
  }

  const fd = { eps: 1e-2, atol: 2e-3, rtol: 2e-2, ...check.finiteDifference };
  const previous = backend();
  useBackend(reference);
  try {
    inputs.forEach((x, index) => {
      if (!(check.inputs[index].grad ?? true)) return;
      const grad = result.grads[index];
      assert.ok(grad, `input ${index} received no gradient`);
      const samples = Math.min(x.size, check.samples ?? 12);
      for (let s = 0; s < samples; s++) {
        const j = samples === x.size ? s : random.int(x.size);
        const original = x.data[j];
        x.data[j] = original + fd.eps;
        const plus = lossValue(check, inputs, weights);
        x.data[j] = original - fd.eps;
        const minus = lossValue(check, inputs, weights);
        x.data[j] = original;
        const numeric = (plus - minus) / (2 * fd.eps);
        const analytic: number = grad[j];
        if (Math.abs(numeric - analytic) > fd.atol + fd.rtol * Math.abs(numeric)) {
          assert.fail(
            `gradient of input ${index} at ${j}: backward ${analytic}, finite difference ${numeric}`,
          );
        }
      }
    });
  } finally {
    useBackend(previous);
  }
}
