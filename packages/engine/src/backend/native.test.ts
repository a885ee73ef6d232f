// The native kernels against the reference backend, on random inputs of awkward shapes (1, primes, sizes
// that are no multiple of the vector width, sizes that cross the GEMM and attention block boundaries).
// The file runs itself once per instruction set this CPU has, in a child process with OWNLM_ISA set, and
// every case runs with 1, 2 and 3 threads, which must give bit-identical results (every native kernel
// reduces in an order fixed by the shapes alone). Tolerances are error bounds of float32 arithmetic with
// the reason next to each; u = 2⁻²⁴ is the unit roundoff.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Random } from '../random.ts';
import type { AttentionShape, Backend, GemmParams } from './backend.ts';
import { loadNativeBackend, nativeAddonPath, nativeInfo } from './native.ts';
import { createReferenceBackend } from './reference.ts';

const u = 2 ** -24;
/** Relative error allowed for the vector exp: 2 ulp, twice what simd_exp.h measured. */
const expError = 2.5e-7;
const ISAS = ['scalar', 'avx2', 'avx512'];
const THREADS = [1, 2, 3];
const childIsa = process.env.OWNLM_NATIVE_TEST_ISA;
const root = fileURLToPath(new URL('../../../../', import.meta.url));

const reference = createReferenceBackend();

function normals(rng: Random, n: number, std = 1): Float32Array {
  return rng.fillNormal(new Float32Array(n), std);
}

/**
 * Asserts |actual − expected| ≤ bound(i) everywhere (NaN matches NaN, infinities match exactly) and names
 * the worst element otherwise.
 */
function assertWithin(
  what: string,
  actual: Float32Array,
  expected: ArrayLike<number>,
  bound: (i: number) => number,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = Math.fround(expected[i]);
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (!Object.is(a, e)) assert.fail(`${what}[${i}] = ${a}, expected ${e}`);
      continue;
    }
    const excess = Math.abs(a - e) - bound(i);
    // A NaN bound is a bug in the test and fails too.
    if (!(excess <= worstExcess)) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}[${worst}] = ${actual[worst]}, expected ${expected[worst]} ± ${bound(worst)} (${actual.length} values)`,
    );
  }
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (const y of x) if (Number.isFinite(y)) m = Math.max(m, Math.abs(y));
  return m;
}

/** Asserts bit-identical arrays (NaN payloads and the sign of zero included). */
function assertIdentical(what: string, a: Float32Array, b: Float32Array) {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.fail(`${what}[${i}] = ${a[i]}, expected exactly ${b[i]}`);
  }
}

/**
 * Runs `run` (which computes into fresh copies and returns its outputs) with every thread count, checks the
 * outputs are bit-identical across thread counts and returns those of the first.
 */
function acrossThreads(native: Backend, what: string, run: () => Float32Array[]): Float32Array[] {
  let first: Float32Array[] | null = null;
  for (const threads of THREADS) {
    native.setThreads(threads);
    const outputs = run();
    if (!first) first = outputs;
    else
      outputs.forEach((o, i) =>
        assertIdentical(`${what} output ${i} with ${threads} threads vs 1`, o, first![i]),
      );
  }
  return first!;
}

interface GemmCase {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha?: number;
  beta?: number;
  /** Extra elements at the end of each row (filled with NaN, so reading them would show). */
  pad?: number;
  batch?: number;
  /** Extra elements between batch entries (NaN-filled too). */
  gap?: number;
  sharedB?: boolean;
}

const transposes: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

const gemmCases: GemmCase[] = [
  ...transposes.flatMap(([transA, transB]) => [
    { m: 1, n: 1, k: 1, transA, transB },
    { m: 3, n: 5, k: 7, transA, transB, alpha: -0.5 },
    { m: 67, n: 129, k: 33, transA, transB, beta: 1 },
    { m: 257, n: 300, k: 129, transA, transB, alpha: 1.5, beta: 0.5 },
  ]),
  // Up to 4 rows take the unpacked path (token-by-token generation); 5 rows are the packed path's smallest.
  ...transposes.flatMap(([transA, transB]) => [
    { m: 1, n: 300, k: 37, transA, transB, beta: 1 },
    { m: 4, n: 1001, k: 70, transA, transB, alpha: 0.5 },
    { m: 5, n: 33, k: 9, transA, transB },
  ]),
  { m: 2, n: 70, k: 17, transA: false, transB: true, batch: 3, gap: 5, beta: 1 },
  { m: 3, n: 9, k: 4, transA: true, transB: false, pad: 2 },
  // k crossing the 256-deep packing slice; m crossing the 144-row block; n crossing 16/32-column slivers.
  { m: 13, n: 31, k: 300, transA: false, transB: true },
  { m: 150, n: 47, k: 17, transA: true, transB: false, beta: 1 },
  { m: 2, n: 1000, k: 5, transA: false, transB: false },
  { m: 1000, n: 3, k: 9, transA: false, transB: true },
  { m: 33, n: 17, k: 11, transA: false, transB: false, pad: 3 },
  { m: 33, n: 17, k: 11, transA: true, transB: true, pad: 5, beta: 1 },
  { m: 31, n: 40, k: 23, transA: false, transB: true, batch: 3, gap: 7 },
  { m: 31, n: 40, k: 23, transA: true, transB: false, batch: 4, sharedB: true, beta: 1 },
  { m: 7, n: 5, k: 0, transA: false, transB: false },
  { m: 7, n: 5, k: 0, transA: false, transB: false, beta: 0.5 },
  { m: 0, n: 5, k: 3, transA: false, transB: false },
];

function gemmTest(native: Backend, rng: Random, c: GemmCase) {
  const { m, n, k, transA, transB } = c;
  const alpha = c.alpha ?? 1;
  const beta = c.beta ?? 0;
  const pad = c.pad ?? 0;
  const batch = c.batch ?? 1;
  const gap = c.gap ?? 0;
  const [aRows, aCols] = transA ? [k, m] : [m, k];
  const [bRows, bCols] = transB ? [n, k] : [k, n];
  const lda = aCols + pad;
  const ldb = bCols + pad;
  const ldc = n + pad;
  const strideA = aRows * lda + gap;
  const strideB = c.sharedB ? 0 : bRows * ldb + gap;
  const strideC = m * ldc + gap;
  const a = new Float32Array(Math.max(0, (batch - 1) * strideA + aRows * lda)).fill(NaN);
  const b = new Float32Array(Math.max(0, (c.sharedB ? 0 : (batch - 1) * strideB) + bRows * ldb)).fill(NaN);
  const c0 = new Float32Array(Math.max(0, (batch - 1) * strideC + m * ldc)).fill(NaN);
  for (let t = 0; t < batch; t++) {
    for (let r = 0; r < aRows; r++) a.set(normals(rng, aCols), t * strideA + r * lda);
    if (!c.sharedB || t === 0)
      for (let r = 0; r < bRows; r++) b.set(normals(rng, bCols), t * strideB + r * ldb);
    // beta = 0 must ignore C, NaN included; otherwise C holds values to accumulate onto.
    if (beta !== 0) for (let r = 0; r < m; r++) c0.set(normals(rng, n), t * strideC + r * ldc);
  }
  const params = (c: Float32Array, x = a, y = b): GemmParams => {
    return {
      transA,
      transB,
      m,
      n,
      k,
      alpha,
      a: x,
      lda,
      b: y,
      ldb,
      beta,
      c,
      ldc,
      batch,
      strideA,
      strideB,
      strideC,
    };
  };
  const expected = c0.slice();
  reference.gemm(params(expected));
  // Σ|a||b| per element: any float32 summation order of k products is within (k+1)·u of it (plus one
  // rounding each for alpha, the beta term and the reference's final rounding).
  const magnitude = c0.map(() => 0);
  reference.gemm({
    ...params(magnitude, a.map(Math.abs), b.map(Math.abs)),
    alpha: 1,
    beta: 0,
  });
  const [actual] = acrossThreads(native, 'gemm', () => {
    const out = c0.slice();
    native.gemm(params(out));
    return [out];
  });
  const name = `gemm ${m}x${n}x${k} ${transA ? 't' : 'n'}${transB ? 't' : 'n'}`;
  assertWithin(name, actual, expected, (i) => {
    const old = beta === 0 ? 0 : Math.abs(beta * c0[i]);
    return (k + 4) * u * (Math.abs(alpha) * magnitude[i] + old);
  });
}

function nativeSuite(isa: string) {
  const native = loadNativeBackend();
  assert.ok(native, 'the native addon must be built for the per-ISA suite');
  const rng = new Random(20240611);

  test(`runs with OWNLM_ISA=${isa}`, () => {
    assert.equal(nativeInfo()!.isa, isa);
  });

  describe('gemm', () => {
    for (const c of gemmCases) {
      const flags = `${c.transA ? 't' : 'n'}${c.transB ? 't' : 'n'} α=${c.alpha ?? 1} β=${c.beta ?? 0}`;
      const extra = `${c.pad ? ` pad ${c.pad}` : ''}${c.batch ? ` batch ${c.batch}` : ''}${c.sharedB ? ' shared B' : ''}`;
      test(`${c.m}x${c.n}x${c.k} ${flags}${extra}`, () => gemmTest(native, rng, c));
    }
  });

  describe('rmsnorm', () => {
    for (const [rows, dim] of [
      [1, 1],
      [7, 13],
      [31, 67],
      [300, 257],
    ]) {
      test(`${rows}x${dim}`, () => {
        const x = normals(rng, rows * dim, 2);
        const weight = normals(rng, dim);
        const dout = normals(rng, rows * dim);
        const dweight0 = normals(rng, dim);
        const eps = 1e-5;
        const out = new Float32Array(rows * dim);
        const rstd = new Float32Array(rows);
        reference.rmsnormForward(x, weight, out, rstd, rows, dim, eps);
        const [nOut, nRstd] = acrossThreads(native, 'rmsnorm forward', () => {
          const o = new Float32Array(rows * dim);
          const r = new Float32Array(rows);
          native.rmsnormForward(x, weight, o, r, rows, dim, eps);
          return [o, r];
        });
        // Σx² of dim non-negative terms: relative error ≤ dim·u, halved by the square root; then two products.
        assertWithin('rstd', nRstd, rstd, (i) => (dim + 4) * u * rstd[i]);
        assertWithin('out', nOut, out, (i) => (dim + 6) * u * Math.abs(out[i]));

        const dx = new Float32Array(rows * dim);
        const dweight = dweight0.slice();
        reference.rmsnormBackward(dout, x, weight, rstd, dx, dweight, rows, dim);
        const [nDx, nDweight] = acrossThreads(native, 'rmsnorm backward', () => {
          const d = new Float32Array(rows * dim);
          const dw = dweight0.slice();
          native.rmsnormBackward(dout, x, weight, rstd, d, dw, rows, dim);
          return [d, dw];
        });
        // dx = dout·w·r − x·r³·Σ(dout·w·x)/dim: the signed sum is off by ≤ dim·u·Σ|dout·w·x|.
        const absDot = new Float64Array(rows);
        for (let r = 0; r < rows; r++) {
          for (let i = 0; i < dim; i++) absDot[r] += Math.abs(dout[r * dim + i] * weight[i] * x[r * dim + i]);
        }
        assertWithin('dx', nDx, dx, (j) => {
          const r = Math.floor(j / dim);
          const i = j % dim;
          const s = rstd[r];
          return (
            (dim + 8) *
            u *
            (Math.abs(dout[j] * weight[i] * s) + (Math.abs(x[j]) * s * s * s * absDot[r]) / dim)
          );
        });
        // dweight: rows signed terms summed onto the old value.
        assertWithin('dweight', nDweight, dweight, (i) => {
          let s = Math.abs(dweight0[i]);
          for (let r = 0; r < rows; r++) s += Math.abs(dout[r * dim + i] * x[r * dim + i] * rstd[r]);
          return (rows + 4) * u * s;
        });
      });
    }
  });

  describe('rope', () => {
    for (const [batch, seq, heads, headDim, offset, inverse, inPlace] of [
      [1, 1, 1, 2, 0, false, false],
      [2, 5, 3, 6, 3, false, true],
      [2, 7, 2, 34, 0, true, false],
      [1, 300, 4, 64, 11, false, false],
      [3, 4, 1, 128, 1, true, true],
    ] as [number, number, number, number, number, boolean, boolean][]) {
      test(`${batch}x${seq}x${heads}x${headDim} offset ${offset}${inverse ? ' inverse' : ''}${inPlace ? ' in place' : ''}`, () => {
        const half = headDim / 2;
        const positions = offset + seq;
        const cos = new Float32Array(positions * half);
        const sin = new Float32Array(positions * half);
        for (let p = 0; p < positions; p++) {
          for (let i = 0; i < half; i++) {
            const angle = p / 10000 ** ((2 * i) / headDim);
            cos[p * half + i] = Math.cos(angle);
            sin[p * half + i] = Math.sin(angle);
          }
        }
        const x = normals(rng, batch * seq * heads * headDim);
        const expected = new Float32Array(x.length);
        reference.rope(x, expected, cos, sin, batch, seq, heads, headDim, offset, inverse);
        const [actual] = acrossThreads(native, 'rope', () => {
          const input = x.slice();
          const out = inPlace ? input : new Float32Array(x.length);
          native.rope(input, out, cos, sin, batch, seq, heads, headDim, offset, inverse);
          return [out];
        });
        // Each output is x1·c ∓ x2·s: two products and a sum, each rounded once.
        assertWithin('rope', actual, expected, (j) => {
          const row = j - (j % headDim);
          const i = (j % headDim) % half;
          const t = Math.floor(row / (heads * headDim)) % seq;
          const c = cos[(offset + t) * half + i];
          const s = sin[(offset + t) * half + i];
          return (
            3 * u * (Math.abs(x[row + i] * c) + Math.abs(x[row + i + half] * s)) +
            3 * u * Math.abs(expected[j])
          );
        });
      });
    }
  });

  describe('attention', () => {
    const shapes: [number, number, number, number, number, number, number][] = [
      // batch, seqQ, seqK, headsQ, headsKV, headDim, queryOffset
      [1, 1, 1, 1, 1, 1, 0],
      [2, 37, 37, 4, 2, 16, 0],
      [1, 70, 70, 2, 2, 64, 0],
      [1, 5, 77, 4, 1, 40, 72],
      [2, 130, 130, 3, 1, 33, 0],
      [1, 10, 6, 2, 1, 8, 0],
      [1, 6, 10, 2, 2, 7, -2],
      [2, 200, 200, 4, 2, 32, 0],
    ];
    for (const [batch, seqQ, seqK, headsQ, headsKV, headDim, queryOffset] of shapes) {
      const title = `b${batch} q${seqQ} k${seqK} h${headsQ}/${headsKV} d${headDim} offset ${queryOffset}`;
      test(title, () => {
        const shape: AttentionShape = {
          ...{ batch, seqQ, seqK, headsQ, headsKV, headDim, queryOffset },
          scale: 1 / Math.sqrt(headDim),
        };
        const q = normals(rng, batch * seqQ * headsQ * headDim);
        const k = normals(rng, batch * seqK * headsKV * headDim);
        const v = normals(rng, k.length);
        const dout = normals(rng, q.length);
        const out = new Float32Array(q.length);
        const lse = new Float32Array(batch * headsQ * seqQ);
        reference.attentionForward(q, k, v, out, lse, shape);
        const [nOut, nLse] = acrossThreads(native, 'attention forward', () => {
          const o = new Float32Array(q.length).fill(NaN);
          const l = new Float32Array(lse.length).fill(NaN);
          native.attentionForward(q, k, v, o, l, shape);
          return [o, l];
        });
        // Normwise: each output is a convex combination of up to seqK rows of v, with probabilities from
        // headDim-term dot products and a 2-ulp exp, summed in tiles in a different order than the
        // reference; 1e-5 of the array's largest value is ~40x the largest error seen in any of these cases.
        const assertNormwise = (what: string, actual: Float32Array, expected: Float32Array) => {
          const bound = 1e-5 * Math.max(1, maxAbs(expected));
          assertWithin(what, actual, expected, () => bound);
        };
        assertNormwise('out', nOut, out);
        assertNormwise('lse', nLse, lse);

        const dq = new Float32Array(q.length);
        const dk = new Float32Array(k.length);
        const dv = new Float32Array(k.length);
        reference.attentionBackward(dout, q, k, v, out, lse, dq, dk, dv, shape);
        const grads = acrossThreads(native, 'attention backward', () => {
          const g = [q, k, v].map((x) => new Float32Array(x.length).fill(NaN));
          native.attentionBackward(dout, q, k, v, out, lse, g[0], g[1], g[2], shape);
          return g;
        });
        assertNormwise('dq', grads[0], dq);
        assertNormwise('dk', grads[1], dk);
        assertNormwise('dv', grads[2], dv);
      });
    }
  });

  describe('swiglu', () => {
    for (const n of [1, 7, 13, 100003]) {
      test(`n ${n}`, () => {
        const gate = normals(rng, n, 4);
        // IEEE behaviour at the edges: NaN in, NaN out; infinities and exp overflow/underflow.
        const specials = [NaN, Infinity, -Infinity, 0, -0, 100, -100, 88.5, -88.5, 1e-30];
        for (let i = 0; i < Math.min(n, specials.length); i++) gate[(i * 7919) % n] = specials[i];
        const up = normals(rng, n);
        const dout = normals(rng, n);
        const out = new Float32Array(n);
        reference.swigluForward(gate, up, out, n);
        const dgate = new Float32Array(n);
        const dup = new Float32Array(n);
        reference.swigluBackward(dout, gate, up, dgate, dup, n);
        const [nOut, nDgate, nDup] = acrossThreads(native, 'swiglu', () => {
          const o = new Float32Array(n);
          const dg = new Float32Array(n);
          const du = new Float32Array(n);
          native.swigluForward(gate, up, o, n);
          native.swigluBackward(dout, gate, up, dg, du, n);
          return [o, dg, du];
        });
        // A few roundings plus the vector exp's error (sigmoid passes exp's relative error through damped);
        // an absolute 1e-37 covers results that flush to ±0 where the reference keeps a subnormal.
        const bound = (x: Float32Array) => (i: number) => (8 * u + expError) * Math.abs(x[i]) + 1e-37;
        assertWithin('out', nOut, out, bound(out));
        assertWithin('dup', nDup, dup, bound(dup));
        // dgate = dy·up·σ·(1 + g·(1 − σ)): the factor cancels to 0 near g = −1.28, so its error is absolute,
        // σ's relative error times up to 1 + |g|.
        assertWithin('dgate', nDgate, dgate, (i) => {
          const sigma = 1 / (1 + Math.exp(-gate[i]));
          return (8 * u + expError) * (1 + Math.abs(gate[i])) * Math.abs(dout[i] * up[i] * sigma) + 1e-37;
        });
      });
    }
  });

  describe('cross-entropy', () => {
    for (const [rows, vocab] of [
      [1, 1],
      [3, 7],
      [13, 31],
      [5, 1000],
      [40, 4099],
    ]) {
      test(`${rows}x${vocab}`, () => {
        const ignoreIndex = -100;
        const logits = normals(rng, rows * vocab, 3);
        // A row far from zero checks the max subtraction.
        if (rows > 2) for (let i = 0; i < vocab; i++) logits[2 * vocab + i] += 1e4;
        const targets = Int32Array.from({ length: rows }, (_, r) =>
          r % 4 === 1 ? ignoreIndex : rng.int(vocab),
        );
        const losses = new Float32Array(rows);
        const lse = new Float32Array(rows);
        reference.crossEntropyForward(logits, targets, losses, lse, rows, vocab, ignoreIndex);
        const [nLosses, nLse] = acrossThreads(native, 'cross-entropy forward', () => {
          const l = new Float32Array(rows).fill(NaN);
          const s = new Float32Array(rows).fill(NaN);
          native.crossEntropyForward(logits, targets, l, s, rows, vocab, ignoreIndex);
          return [l, s];
        });
        // lse: a float sum of vocab positive exps (relative ≤ vocab·u + exp error) becomes an absolute error
        // of the log; plus rounding of lse itself (|lse| up to 1e4 here).
        const lseBound = (i: number) => (vocab + 4) * u + expError + 2 * u * Math.abs(lse[i]);
        assertWithin('lse', nLse, lse, lseBound);
        assertWithin('losses', nLosses, losses, (i) => lseBound(i) + 2 * u * Math.abs(losses[i]));

        const scale = 1 / rows;
        const dlogits = new Float32Array(rows * vocab);
        reference.crossEntropyBackward(logits, targets, lse, dlogits, rows, vocab, ignoreIndex, scale);
        // The argument x − lse of exp is rounded once (relative error of the result ≤ u·(|x| + |lse|)).
        const dBound = (j: number) => {
          const r = Math.floor(j / vocab);
          return (
            Math.abs(dlogits[j]) * (expError + 4 * u + 2 * u * (Math.abs(logits[j]) + Math.abs(lse[r]))) +
            2 * u * scale
          );
        };
        for (const alias of [false, true]) {
          const [nD] = acrossThreads(native, 'cross-entropy backward', () => {
            const input = logits.slice();
            const d = alias ? input : new Float32Array(rows * vocab).fill(NaN);
            native.crossEntropyBackward(input, targets, lse, d, rows, vocab, ignoreIndex, scale);
            return [d];
          });
          assertWithin(alias ? 'dlogits (aliasing logits)' : 'dlogits', nD, dlogits, dBound);
        }
      });
    }
  });

  describe('embedding', () => {
    for (const [n, dim, rowsInTable] of [
      [1, 1, 1],
      [13, 7, 5],
      [300, 257, 4],
      [1000, 64, 1000],
    ]) {
      test(`${n} ids x ${dim} from ${rowsInTable} rows`, () => {
        const table = normals(rng, rowsInTable * dim);
        const ids = Int32Array.from({ length: n }, () => rng.int(rowsInTable));
        const expected = new Float32Array(n * dim);
        reference.embeddingForward(ids, table, expected, n, dim);
        const dout = normals(rng, n * dim);
        const dtable0 = normals(rng, rowsInTable * dim);
        const dtable = dtable0.slice();
        reference.embeddingBackward(ids, dout, dtable, n, dim);
        const [out, nDtable] = acrossThreads(native, 'embedding', () => {
          const o = new Float32Array(n * dim);
          native.embeddingForward(ids, table, o, n, dim);
          const d = dtable0.slice();
          native.embeddingBackward(ids, dout, d, n, dim);
          return [o, d];
        });
        // A copy, and additions in id order onto each row (repeated ids included), as the reference does.
        assertIdentical('embedding forward', out, expected);
        assertIdentical('embedding backward', nDtable, dtable);
      });
    }
  });

  describe('adamw', () => {
    for (const n of [1, 7, 100003]) {
      test(`n ${n}`, () => {
        const param0 = normals(rng, n);
        const grad = normals(rng, n, 0.1);
        const m0 = normals(rng, n, 0.01);
        const v0 = normals(rng, n, 0.01).map((x) => x * x);
        const [lr, beta1, beta2, eps, weightDecay, step] = [3e-4, 0.9, 0.95, 1e-8, 0.1, 3];
        const bc1 = 1 - beta1 ** step;
        const bc2 = 1 - beta2 ** step;
        const [param, m, v] = [param0.slice(), m0.slice(), v0.slice()];
        reference.adamwStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
        const [nParam, nM, nV] = acrossThreads(native, 'adamw', () => {
          const s = [param0.slice(), m0.slice(), v0.slice()];
          native.adamwStep(s[0], grad, s[1], s[2], n, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
          return s;
        });
        // Moments: two products and a sum in float32 with the betas rounded to float32.
        assertWithin('m', nM, m, (i) => 4 * u * (Math.abs(beta1 * m0[i]) + Math.abs((1 - beta1) * grad[i])));
        assertWithin(
          'v',
          nV,
          v,
          (i) => 6 * u * (Math.abs(beta2 * v0[i]) + Math.abs((1 - beta2) * grad[i] ** 2)),
        );
        // The parameter: roundings of the decayed value, plus those of the update (its m and v as above,
        // the square root, the float32 constants and four operations).
        assertWithin('param', nParam, param, (i) => {
          const update = ((lr / bc1) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
          return 4 * u * Math.abs(param0[i]) + 20 * u * Math.abs(update);
        });
      });
    }
  });

  describe('vector helpers', () => {
    for (const n of [0, 1, 7, 100003]) {
      test(`n ${n}`, () => {
        const a = normals(rng, n);
        const b = normals(rng, n);
        const alpha = 0.3;
        const [sum, product, axpy, scaled, sumAliased] = acrossThreads(native, 'vector helpers', () => {
          const s = new Float32Array(n);
          native.add(a, b, s, n);
          const p = new Float32Array(n);
          native.mul(a, b, p, n);
          const y = b.slice();
          native.axpy(alpha, a, y, n);
          const x = a.slice();
          native.scale(x, alpha, n);
          const aliased = a.slice();
          native.add(aliased, b, aliased, n);
          return [s, p, y, x, aliased];
        });
        // One correctly rounded float32 operation, as the reference's double result rounded to float32.
        const exactSum = a.map((x, i) => x + b[i]);
        assertIdentical('add', sum, exactSum);
        assertIdentical('add (out aliasing a)', sumAliased, exactSum);
        assertIdentical(
          'mul',
          product,
          a.map((x, i) => x * b[i]),
        );
        // alpha is rounded to float32 first: one more rounding.
        assertWithin(
          'axpy',
          axpy,
          b.map((y, i) => y + alpha * a[i]),
          (i) => 3 * u * (Math.abs(b[i]) + Math.abs(alpha * a[i])),
        );
        assertWithin(
          'scale',
          scaled,
          a.map((x) => x * alpha),
          (i) => 2 * u * Math.abs(alpha * a[i]),
        );

        const sums = THREADS.map((threads) => {
          native.setThreads(threads);
          return native.sumSquares(a, n);
        });
        assert.ok(
          sums.every((s) => s === sums[0]),
          'sumSquares differs between thread counts',
        );
        // Double accumulation of n non-negative terms: relative error ≤ n·2⁻⁵³.
        const expected = reference.sumSquares(a, n);
        assert.ok(
          Math.abs(sums[0] - expected) <= (n + 2) * 2 ** -53 * expected,
          `sumSquares ${sums[0]} vs ${expected}`,
        );
      });
    }
  });
}

function bestIsas(): string[] {
  const info = nativeInfo();
  if (!info) return [];
  return ISAS.slice(0, ISAS.indexOf(info.bestIsa) + 1);
}

if (childIsa) {
  describe(`native kernels (${childIsa})`, () => nativeSuite(childIsa));
} else {
  describe('native backend', () => {
    const built = nativeInfo() !== null;

    test('the addon is loaded (required when CI is set)', (t) => {
      if (!built && !process.env.CI) {
        t.skip(`not built: ${nativeAddonPath}`);
        return;
      }
      assert.ok(built, `CI must test the native backend, but ${nativeAddonPath} was not built`);
      assert.equal(loadNativeBackend()!.name, 'native');
    });

    for (const isa of ISAS) {
      const available = bestIsas().includes(isa);
      test(
        `kernels match the reference with OWNLM_ISA=${isa}`,
        { skip: !built ? 'addon not built' : !available ? `this CPU lacks ${isa}` : false },
        () => {
          // The child reports in TAP to its own stdout, not through this test runner's channel.
          const env: NodeJS.ProcessEnv = { ...process.env, OWNLM_ISA: isa, OWNLM_NATIVE_TEST_ISA: isa };
          delete env.NODE_TEST_CONTEXT;
          const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
            cwd: root,
            encoding: 'utf8',
            env,
            maxBuffer: 64 * 1024 * 1024,
          });
          const output = `${child.stdout}\n${child.stderr}`;
          const failures = output
            .split('\n')
            .filter((line) => /^\s*(not ok|✖)/.test(line) || /expected|differs|Error/.test(line));
          assert.equal(
            child.status,
            0,
            `OWNLM_ISA=${isa} failed:\n${failures.slice(0, 40).join('\n')}\n${output.slice(-4000)}`,
          );
        },
      );
    }

    test(
      'sizes beyond the buffers throw instead of touching memory',
      { skip: !built && 'addon not built' },
      () => {
        const native = loadNativeBackend()!;
        const f = (n: number) => new Float32Array(n);
        const gemm: GemmParams = {
          ...{ transA: false, transB: false, m: 4, n: 5, k: 6, alpha: 1, lda: 6, ldb: 5, beta: 0, ldc: 5 },
          a: f(24),
          b: f(30),
          c: f(20),
        };
        native.gemm(gemm);
        assert.throws(() => native.gemm({ ...gemm, c: f(19) }), RangeError);
        assert.throws(() => native.gemm({ ...gemm, a: f(23) }), RangeError);
        assert.throws(() => native.gemm({ ...gemm, b: f(30).subarray(1) }), RangeError);
        assert.throws(() => native.gemm({ ...gemm, lda: 5 }), RangeError);
        assert.throws(() => native.gemm({ ...gemm, transA: true }), RangeError);
        assert.throws(
          () => native.gemm({ ...gemm, batch: 2, strideA: 24, strideB: 30, strideC: 20 }),
          RangeError,
        );
        assert.throws(() => native.gemm({ ...gemm, batch: 2, strideC: 0, c: f(40) }), RangeError);
        assert.throws(() => native.gemm({ ...gemm, m: -1 }), RangeError);
        assert.throws(() => native.gemm({ ...gemm, k: 2.5 }), RangeError);
        assert.throws(
          () => native.gemm({ ...gemm, c: new Float64Array(20) as unknown as Float32Array }),
          TypeError,
        );
        assert.throws(() => native.rmsnormForward(f(10), f(5), f(10), f(1), 2, 5, 1e-5), RangeError);
        assert.throws(() => native.rope(f(8), f(8), f(2), f(2), 1, 2, 1, 4, 0, false), RangeError);
        assert.throws(() => native.rope(f(6), f(6), f(9), f(9), 1, 2, 1, 3, 0, false), RangeError);
        const shape: AttentionShape = {
          ...{ batch: 1, seqQ: 4, seqK: 4, headsQ: 2, headsKV: 1, headDim: 8, scale: 0.35, queryOffset: 0 },
        };
        native.attentionForward(f(64), f(32), f(32), f(64), f(8), shape);
        assert.throws(() => native.attentionForward(f(64), f(32), f(32), f(64), f(7), shape), RangeError);
        assert.throws(() => native.attentionForward(f(64), f(31), f(32), f(64), f(8), shape), RangeError);
        assert.throws(
          () => native.attentionForward(f(64), f(32), f(32), f(64), f(8), { ...shape, headsKV: 3 }),
          RangeError,
        );
        const ids = Int32Array.of(0, 3);
        assert.throws(() => native.embeddingForward(ids, f(6), f(4), 2, 2), RangeError);
        assert.throws(() => native.embeddingBackward(Int32Array.of(-1), f(2), f(6), 1, 2), RangeError);
        assert.throws(
          () => native.crossEntropyForward(f(6), Int32Array.of(0, 3), f(2), f(2), 2, 3, -100),
          RangeError,
        );
        assert.throws(
          () => native.crossEntropyBackward(f(6), Int32Array.of(0, 1), f(2), f(5), 2, 3, -100, 1),
          RangeError,
        );
        assert.throws(
          () => native.adamwStep(f(3), f(3), f(3), f(2), 3, 1, 0.9, 0.9, 1e-8, 0, 1, 1),
          RangeError,
        );
        assert.throws(() => native.axpy(1, f(3), f(2), 3), RangeError);
        assert.throws(() => native.sumSquares(f(3), 4), RangeError);
        assert.throws(() => native.setThreads(0), RangeError);
      },
    );
  });
}
