// AdamW, clipping and schedules against independent scalar re-derivations of PyTorch's formulas.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Tensor } from '../tensor.ts';
import { AdamW } from './adamw.ts';
import { clipGradNorm } from './clip.ts';
import { learningRate } from './schedule.ts';

describe('AdamW', () => {
  test('three steps match torch.optim.AdamW written out in float64, with per-group decay', () => {
    const decayed = new Tensor(Float32Array.from([0.5, -1.25, 2]), [3], { requiresGrad: true, name: 'w' });
    const plain = new Tensor(Float32Array.from([0.75]), [1], { requiresGrad: true, name: 'b' });
    const opt = new AdamW(
      [
        { params: [decayed], weightDecay: 0.1 },
        { params: [plain], weightDecay: 0 },
      ],
      { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    );
    const grads = [
      [0.1, -0.2, 0.3, 0.05],
      [-0.4, 0.1, 0.0, 0.02],
      [0.25, 0.3, -0.1, -0.07],
    ];
    // Expected: p ← p·(1 − lr·wd); m,v EMAs; p ← p − lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps).
    const p = [0.5, -1.25, 2, 0.75];
    const m = [0, 0, 0, 0];
    const v = [0, 0, 0, 0];
    grads.forEach((g, step) => {
      decayed.grad = Float32Array.from(g.slice(0, 3));
      plain.grad = Float32Array.from(g.slice(3));
      opt.step();
      const t = step + 1;
      for (let i = 0; i < 4; i++) {
        const wd = i < 3 ? 0.1 : 0;
        p[i] *= 1 - 0.01 * wd;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
        p[i] -= ((0.01 / (1 - 0.9 ** t)) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.95 ** t) + 1e-8);
      }
    });
    const got = [...decayed.data, ...plain.data];
    // float32 parameters: one rounding per step, ~1e-7 relative.
    got.forEach((x, i) => assert.ok(Math.abs(x - p[i]) < 1e-6, `param ${i}: ${x} vs ${p[i]}`));
  });

  test('state round-trips by parameter name', () => {
    const w = new Tensor(Float32Array.from([1, 2]), [2], { requiresGrad: true, name: 'w' });
    const a = new AdamW([{ params: [w], weightDecay: 0 }], { lr: 0.1 });
    w.grad = Float32Array.from([0.5, -0.5]);
    a.step();
    const b = new AdamW([{ params: [w], weightDecay: 0 }], { lr: 0.1 });
    b.loadState(a.state());
    assert.equal(b.stepCount, 1);
    assert.deepEqual(b.state().moments.get('w'), a.state().moments.get('w'));
  });
});

describe('gradient clipping', () => {
  test('scales to the max global norm and reports the norm before clipping', () => {
    const a = new Tensor(Float32Array.from([3, 0]), [2], { requiresGrad: true });
    const b = new Tensor(Float32Array.from([4]), [1], { requiresGrad: true });
    a.grad = Float32Array.from([3, 0]);
    b.grad = Float32Array.from([4]);
    assert.equal(clipGradNorm([a, b], 1), 5);
    assert.ok(Math.abs(a.grad[0] - 0.6) < 1e-6 && Math.abs(b.grad[0] - 0.8) < 1e-6);
    assert.ok(Math.abs(clipGradNorm([a, b], 10) - 1) < 1e-6);
    assert.ok(Math.abs(b.grad[0] - 0.8) < 1e-6, 'gradients under the limit are left alone');
  });
});

describe('learning-rate schedules', () => {
  const base = { lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
  test('linear warmup reaches the peak at the last warmup step', () => {
    assert.equal(learningRate({ ...base, kind: 'cosine' }, 0), 0.1);
    assert.equal(learningRate({ ...base, kind: 'cosine' }, 9), 1);
  });
  test('cosine, linear and constant decay', () => {
    assert.ok(Math.abs(learningRate({ ...base, kind: 'cosine' }, 60) - 0.55) < 1e-12);
    assert.ok(Math.abs(learningRate({ ...base, kind: 'cosine' }, 110) - 0.1) < 1e-12);
    assert.ok(Math.abs(learningRate({ ...base, kind: 'linear' }, 35) - 0.775) < 1e-12);
    assert.equal(learningRate({ ...base, kind: 'constant' }, 100), 1);
  });
});
