// Every op: output shape, forward against an independent formula, backward against finite differences, and
// (with the native backend) forward and backward against the reference backend. Shapes are awkward on purpose.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Random } from '../random.ts';
import { Tensor } from '../tensor.ts';
import { checkOp } from '../testing/check-op.ts';
import { causalAttention } from './attention.ts';
import { crossEntropy, sequenceLogProbs } from './cross-entropy.ts';
import { dpoLoss } from './dpo-loss.ts';
import { dropout } from './dropout.ts';
import { add, mean, mul, scale, sum } from './elementwise.ts';
import { embedding } from './embedding.ts';
import { matmul } from './matmul.ts';
import { rmsnorm } from './rmsnorm.ts';
import { rope, ropeTables } from './rope.ts';
import { swiglu } from './swiglu.ts';

function naiveMatmul(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  sharedB: boolean,
): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const oa = t * m * k;
    const ob = sharedB ? 0 : t * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < k; l++)
          s +=
            (transA ? a[oa + l * m + i] : a[oa + i * k + l]) *
            (transB ? b[ob + j * k + l] : b[ob + l * n + j]);
        out[(t * m + i) * n + j] = s;
      }
  }
  return out;
}

describe('matmul', () => {
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    test(`2-D 3×7·7×5 transA=${transA} transB=${transB}`, () => {
      const [m, k, n] = [3, 7, 5];
      checkOp({
        inputs: [{ shape: transA ? [k, m] : [m, k] }, { shape: transB ? [n, k] : [k, n] }],
        forward: (a, b) => matmul(a, b, { transA, transB }),
        shape: [m, n],
        expected: (a, b) => naiveMatmul(a, b, 1, m, n, k, transA, transB, false),
      });
    });
    test(`batched 2×[13×31·31×1] transA=${transA} transB=${transB}`, () => {
      const [batch, m, k, n] = [2, 13, 31, 1];
      checkOp({
        inputs: [
          { shape: transA ? [batch, k, m] : [batch, m, k] },
          { shape: transB ? [batch, n, k] : [batch, k, n] },
        ],
        forward: (a, b) => matmul(a, b, { transA, transB }),
        shape: [batch, m, n],
        expected: (a, b) => naiveMatmul(a, b, batch, m, n, k, transA, transB, false),
      });
    });
    test(`shared right operand 3×[5×9]·[9×17] transA=${transA} transB=${transB}`, () => {
      const [batch, m, k, n] = [3, 5, 9, 17];
      checkOp({
        inputs: [{ shape: transA ? [batch, k, m] : [batch, m, k] }, { shape: transB ? [n, k] : [k, n] }],
        forward: (a, b) => matmul(a, b, { transA, transB }),
        shape: [batch, m, n],
        expected: (a, b) => naiveMatmul(a, b, batch, m, n, k, transA, transB, true),
      });
    });
  }
  test('a reused operand accumulates both gradients (x·xᵀ)', () => {
    checkOp({
      inputs: [{ shape: [4, 6] }],
      forward: (x) => matmul(x, x, { transB: true }),
      shape: [4, 4],
      expected: (x) => naiveMatmul(x, x, 1, 4, 4, 6, false, true, false),
    });
  });
  test('mismatched shapes are rejected', () => {
    assert.throws(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])), /do not multiply/);
  });
});

describe('elementwise', () => {
  test('add with a broadcast bias', () => {
    checkOp({
      inputs: [{ shape: [3, 5, 7] }, { shape: [7] }],
      forward: add,
      shape: [3, 5, 7],
      expected: (a, b) => a.map((x, i) => x + b[i % 7]),
    });
  });
  test('mul, same shape and broadcast', () => {
    checkOp({
      inputs: [{ shape: [11] }, { shape: [11] }],
      forward: mul,
      shape: [11],
      expected: (a, b) => a.map((x, i) => x * b[i]),
    });
    checkOp({
      inputs: [{ shape: [2, 3] }, { shape: [3] }],
      forward: mul,
      shape: [2, 3],
      expected: (a, b) => a.map((x, i) => x * b[i % 3]),
    });
  });
  test('scale, sum and mean', () => {
    checkOp({
      inputs: [{ shape: [13] }],
      forward: (a) => scale(a, -2.5),
      shape: [13],
      expected: (a) => a.map((x) => x * -2.5),
    });
    checkOp({
      inputs: [{ shape: [3, 7] }],
      forward: sum,
      shape: [1],
      expected: (a) => [a.reduce((s, x) => s + x, 0)],
    });
    checkOp({
      inputs: [{ shape: [3, 7] }],
      forward: mean,
      shape: [1],
      expected: (a) => [a.reduce((s, x) => s + x, 0) / 21],
    });
  });
  test('reshape is a view whose gradient flows back', () => {
    checkOp({
      inputs: [{ shape: [6, 4] }],
      forward: (a) => mul(a.reshape([2, 3, 4]), a.reshape([2, -1, 4])),
      shape: [2, 3, 4],
      expected: (a) => a.map((x) => x * x),
    });
  });
  test('a broadcast that does not fit is rejected', () => {
    assert.throws(() => add(Tensor.zeros([2, 3]), Tensor.zeros([2])), /does not broadcast/);
  });
});

describe('embedding', () => {
  test('gathers rows; repeated ids accumulate their gradients', () => {
    const ids = Int32Array.from([3, 0, 3, 6, 1, 3]);
    checkOp({
      inputs: [{ shape: [7, 5] }],
      forward: (table) => embedding(table, ids),
      shape: [6, 5],
      expected: (table) => Array.from({ length: 30 }, (_, i) => table[ids[Math.floor(i / 5)] * 5 + (i % 5)]),
      samples: 35,
    });
  });
  test('an id outside the vocabulary is rejected', () => {
    assert.throws(() => embedding(Tensor.zeros([4, 2]), Int32Array.from([1, 4])), /outside \[0, 4\)/);
  });
});

describe('rmsnorm', () => {
  test('normalizes the last dimension (rows 5, dim 13)', () => {
    const eps = 1e-5;
    checkOp({
      inputs: [{ shape: [5, 13] }, { shape: [13], init: (r) => 1 + 0.3 * r.normal() }],
      forward: (x, w) => rmsnorm(x, w, eps),
      shape: [5, 13],
      expected: (x, w) =>
        x.map((v, i) => {
          const row = Math.floor(i / 13);
          let ss = 0;
          for (let j = 0; j < 13; j++) ss += x[row * 13 + j] ** 2;
          return (v / Math.sqrt(ss / 13 + eps)) * w[i % 13];
        }),
    });
  });
  test('gradient only for x (frozen weight)', () => {
    checkOp({
      inputs: [{ shape: [3, 8] }, { shape: [8], grad: false }],
      forward: (x, w) => rmsnorm(x, w, 1e-6),
      shape: [3, 8],
    });
  });
});

describe('rope', () => {
  test('rotates pairs (i, i + d/2) by position (batch 2, seq 3, heads 3, head_dim 6, offset 2)', () => {
    const [batch, seq, heads, d, offset, theta] = [2, 3, 3, 6, 2, 500];
    const tables = ropeTables(d, 16, theta);
    checkOp({
      inputs: [{ shape: [batch * seq, heads * d] }],
      forward: (x) => rope(x, tables, { batch, seq, heads, positionOffset: offset }),
      shape: [batch * seq, heads * d],
      // Independent formula in float64 (the tables round the angle to float32, as HF does): 1e-4 slack.
      forwardTolerance: { atol: 1e-4, rtol: 1e-4 },
      expected: (x) =>
        x.map((_, idx) => {
          const e = idx % d;
          const t = Math.floor(idx / (heads * d)) % seq;
          const half = d / 2;
          const i = e % half;
          const angle = (offset + t) * Math.pow(theta, (-2 * i) / d);
          const base = idx - e;
          const x1 = x[base + i];
          const x2 = x[base + i + half];
          return e < half
            ? x1 * Math.cos(angle) - x2 * Math.sin(angle)
            : x2 * Math.cos(angle) + x1 * Math.sin(angle);
        }),
    });
  });
});

function naiveAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  batch: number,
  seqQ: number,
  seqK: number,
  hq: number,
  hkv: number,
  d: number,
  offset: number,
): Float64Array {
  const out = new Float64Array(batch * seqQ * hq * d);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / (hq / hkv));
      for (let i = 0; i < seqQ; i++) {
        const s: number[] = [];
        for (let j = 0; j <= Math.min(seqK - 1, i + offset); j++) {
          let dot = 0;
          for (let e = 0; e < d; e++)
            dot += q[((b * seqQ + i) * hq + h) * d + e] * k[((b * seqK + j) * hkv + g) * d + e];
          s.push(dot / Math.sqrt(d));
        }
        const max = Math.max(...s);
        const p = s.map((x) => Math.exp(x - max));
        const z = p.reduce((a, c) => a + c, 0);
        for (let e = 0; e < d; e++) {
          let acc = 0;
          p.forEach((pj, j) => (acc += (pj / z) * v[((b * seqK + j) * hkv + g) * d + e]));
          out[((b * seqQ + i) * hq + h) * d + e] = acc;
        }
      }
    }
  return out;
}

describe('causal attention', () => {
  const cases = [
    {
      name: 'MHA batch 2, seq 7, heads 3, head_dim 4',
      batch: 2,
      seqQ: 7,
      seqK: 7,
      hq: 3,
      hkv: 3,
      d: 4,
      offset: 0,
    },
    {
      name: 'GQA 6 query heads on 2 kv heads, seq 5, head_dim 6',
      batch: 1,
      seqQ: 5,
      seqK: 5,
      hq: 6,
      hkv: 2,
      d: 6,
      offset: 0,
    },
    {
      name: 'KV-cache step: 3 queries after 4 cached positions',
      batch: 1,
      seqQ: 3,
      seqK: 7,
      hq: 4,
      hkv: 2,
      d: 8,
      offset: 4,
    },
    { name: 'single position', batch: 1, seqQ: 1, seqK: 1, hq: 1, hkv: 1, d: 2, offset: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      checkOp({
        inputs: [
          { shape: [c.batch * c.seqQ, c.hq * c.d] },
          { shape: [c.batch * c.seqK, c.hkv * c.d] },
          { shape: [c.batch * c.seqK, c.hkv * c.d] },
        ],
        forward: (q, k, v) =>
          causalAttention(q, k, v, {
            batch: c.batch,
            seqQ: c.seqQ,
            seqK: c.seqK,
            headsQ: c.hq,
            headsKV: c.hkv,
            headDim: c.d,
            scale: 1 / Math.sqrt(c.d),
            queryOffset: c.offset,
          }),
        shape: [c.batch * c.seqQ, c.hq * c.d],
        expected: (q, k, v) => naiveAttention(q, k, v, c.batch, c.seqQ, c.seqK, c.hq, c.hkv, c.d, c.offset),
        samples: 16,
      });
    });
  }
});

describe('swiglu', () => {
  test('silu(gate)·up over 37 values', () => {
    checkOp({
      inputs: [{ shape: [37], std: 2 }, { shape: [37] }],
      forward: swiglu,
      shape: [37],
      expected: (g, u) => g.map((x, i) => (x / (1 + Math.exp(-x))) * u[i]),
    });
  });
});

describe('cross-entropy', () => {
  test('mean over counted targets with ignored rows (rows 6, vocab 11)', () => {
    const targets = Int32Array.from([3, -100, 10, 0, -100, 7]);
    checkOp({
      inputs: [{ shape: [6, 11], std: 2 }],
      forward: (logits) => crossEntropy(logits, targets),
      shape: [1],
      expected: (logits) => {
        let total = 0;
        let n = 0;
        targets.forEach((t, r) => {
          if (t === -100) return;
          const row = Array.from(logits.subarray(r * 11, r * 11 + 11));
          const max = Math.max(...row);
          total += Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max - row[t];
          n++;
        });
        return [total / n];
      },
      samples: 66,
    });
  });
  test('the logits gradient may reuse the logits buffer only when the loss is their sole consumer', () => {
    checkOp({
      inputs: [{ shape: [4, 5] }],
      forward: (x) => {
        const logits = scale(x, 1.5);
        return add(crossEntropy(logits, Int32Array.from([1, 2, 3, 4])), sum(logits));
      },
      shape: [1],
      samples: 20,
    });
  });
  test('a target outside the vocabulary is rejected', () => {
    assert.throws(() => crossEntropy(Tensor.zeros([2, 3]), Int32Array.from([0, 3])), /target 3 at row 1/);
  });
});

/** Σ log softmax(row)[target] over the rows of each sequence whose target is not −100, in float64. */
function naiveSequenceLogProbs(logits: Float32Array, targets: Int32Array, sequences: number, vocab: number) {
  const seq = targets.length / sequences;
  return Array.from({ length: sequences }, (_, b) => {
    let total = 0;
    for (let r = b * seq; r < (b + 1) * seq; r++) {
      if (targets[r] === -100) continue;
      const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const max = Math.max(...row);
      total += row[targets[r]] - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    }
    return total;
  });
}

describe('sequence log-probabilities', () => {
  test('3 sequences of 5 rows, vocab 13, one sequence wholly ignored', () => {
    const targets = Int32Array.from([-100, 4, 12, 0, -100, ...[-100, -100, -100, -100, -100], 7, 7, 1, 3, 9]);
    checkOp({
      inputs: [{ shape: [15, 13], std: 2 }],
      forward: (logits) => sequenceLogProbs(logits, targets, 3),
      shape: [3],
      expected: (logits) => naiveSequenceLogProbs(logits, targets, 3, 13),
      samples: 40,
    });
  });
  test('the logits gradient reuses the logits buffer only when they have no other consumer', () => {
    const targets = Int32Array.from([1, 2, -100, 4, 0, 3]);
    checkOp({
      inputs: [{ shape: [6, 5] }],
      forward: (x) => {
        const logits = scale(x, 1.5);
        return add(sum(sequenceLogProbs(logits, targets, 2)), sum(logits));
      },
      shape: [1],
      samples: 30,
    });
  });
  test('rows that do not split into the sequences are rejected', () => {
    assert.throws(
      () => sequenceLogProbs(Tensor.zeros([5, 3]), new Int32Array(5), 2),
      /5 rows do not split into 2 sequences/,
    );
  });
});

/** −log σ(β((πc − rc) − (πr − rr))) averaged over pairs, in float64. */
function naiveDpoLoss(policy: Float32Array, reference: Float32Array, beta: number): number[] {
  const pairs = policy.length / 2;
  let total = 0;
  for (let i = 0; i < pairs; i++) {
    const z = beta * (policy[i] - reference[i] - (policy[pairs + i] - reference[pairs + i]));
    total += -Math.log(1 / (1 + Math.exp(-z)));
  }
  return [total / pairs];
}

describe('DPO loss', () => {
  for (const beta of [0.1, 2.5]) {
    test(`7 pairs, beta ${beta}`, () => {
      checkOp({
        inputs: [
          { shape: [14], std: 3 },
          { shape: [14], std: 3, grad: false },
        ],
        forward: (policy, reference) => dpoLoss(policy, reference, beta),
        shape: [1],
        expected: (policy, reference) => naiveDpoLoss(policy, reference, beta),
        samples: 14,
      });
    });
  }
  test('stays finite where a margin overflows exp, with the limiting gradient', () => {
    const policy = new Tensor(Float32Array.from([900, -900, -900, 900]), [4], { requiresGrad: true });
    const loss = dpoLoss(policy, Tensor.zeros([4]), 1);
    // Pair 0 is won by 1800 nats (loss ≈ 0), pair 1 lost by 1800 (loss ≈ 1800); mean 900.
    assert.equal(loss.item(), 900);
    loss.backward();
    assert.deepEqual([...policy.grad!], [0, -0.5, 0, 0.5]);
  });
  test('a reference that requires a gradient, a shape mismatch and beta ≤ 0 are rejected', () => {
    const policy = Tensor.zeros([4], { requiresGrad: true });
    assert.throws(() => dpoLoss(policy, Tensor.zeros([4], { requiresGrad: true }), 1), /constants/);
    assert.throws(() => dpoLoss(policy, Tensor.zeros([2]), 1), /does not match/);
    assert.throws(() => dpoLoss(Tensor.zeros([3]), Tensor.zeros([3]), 1), /\[2·pairs\]/);
    assert.throws(() => dpoLoss(policy, Tensor.zeros([4]), 0), /beta must be positive/);
  });
});

describe('dropout', () => {
  test('keeps about 1−p of the values, scaled by 1/(1−p), and is reproducible from the seed', () => {
    const x = new Tensor(new Float32Array(10000).fill(1), [10000]);
    const a = dropout(x, 0.25, new Random(7));
    const b = dropout(x, 0.25, new Random(7));
    assert.deepEqual(a.data, b.data);
    const kept = a.data.filter((v) => v !== 0);
    assert.ok(Math.abs(kept.length / 10000 - 0.75) < 0.02, `kept fraction ${kept.length / 10000}`);
    assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6));
  });
  test('gradient passes through kept values only', () => {
    checkOp({
      inputs: [{ shape: [3, 17] }],
      forward: (x) => dropout(x, 0.4, new Random(3)),
      shape: [3, 17],
      samples: 51,
    });
  });
});
