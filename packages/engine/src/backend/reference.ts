// The reference backend: plain TypeScript loops, written to be obviously right rather than fast. It is the
// oracle the native kernels are tested against and the fallback where the addon cannot be built.
// Reductions accumulate in float64 (JS numbers) so the oracle is at least as accurate as any fast kernel.
import type { AttentionShape, Backend, GemmParams } from './backend.ts';

function gemm(p: GemmParams): void {
  const { transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc } = p;
  const batch = p.batch ?? 1;
  for (let bi = 0; bi < batch; bi++) {
    const oa = bi * (p.strideA ?? 0);
    const ob = bi * (p.strideB ?? 0);
    const oc = bi * (p.strideC ?? 0);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let l = 0; l < k; l++) {
          const av = transA ? a[oa + l * lda + i] : a[oa + i * lda + l];
          const bv = transB ? b[ob + j * ldb + l] : b[ob + l * ldb + j];
          sum += av * bv;
        }
        const idx = oc + i * ldc + j;
        c[idx] = beta === 0 ? alpha * sum : alpha * sum + beta * c[idx];
      }
    }
  }
}

function rmsnormForward(
  x: Float32Array,
  weight: Float32Array,
  out: Float32Array,
  rstd: Float32Array,
  rows: number,
  dim: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i] * x[o + i];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    rstd[r] = inv;
    for (let i = 0; i < dim; i++) out[o + i] = x[o + i] * inv * weight[i];
  }
}

function rmsnormBackward(
  dout: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  rstd: Float32Array,
  dx: Float32Array,
  dweight: Float32Array,
  rows: number,
  dim: number,
): void {
  // y_i = x_i·r·w_i with r = (mean(x²)+eps)^-1/2; dr/dx_j = −r³·x_j/dim.
  for (let row = 0; row < rows; row++) {
    const o = row * dim;
    const r = rstd[row];
    let dot = 0;
    for (let i = 0; i < dim; i++) {
      dot += dout[o + i] * weight[i] * x[o + i];
      dweight[i] += dout[o + i] * x[o + i] * r;
    }
    const coef = (r * r * r * dot) / dim;
    for (let i = 0; i < dim; i++) dx[o + i] = dout[o + i] * weight[i] * r - x[o + i] * coef;
  }
}

function rope(
  x: Float32Array,
  out: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  batch: number,
  seq: number,
  heads: number,
  headDim: number,
  positionOffset: number,
  inverse: boolean,
): void {
  const half = headDim / 2;
  const sign = inverse ? -1 : 1;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      const table = (positionOffset + t) * half;
      for (let h = 0; h < heads; h++) {
        const o = ((b * seq + t) * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const c = cos[table + i];
          const s = sign * sin[table + i];
          const x1 = x[o + i];
          const x2 = x[o + i + half];
          // HF: out = x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1].
          out[o + i] = x1 * c - x2 * s;
          out[o + i + half] = x2 * c + x1 * s;
        }
      }
    }
  }
}

/** Scaled scores of one query row against visible keys, as a fresh array (−∞ beyond the causal limit). */
function scores(
  q: Float32Array,
  k: Float32Array,
  qo: number,
  kBase: number,
  kStride: number,
  visible: number,
  d: number,
  scale: number,
): Float64Array {
  const s = new Float64Array(visible);
  for (let j = 0; j < visible; j++) {
    let dot = 0;
    const ko = kBase + j * kStride;
    for (let i = 0; i < d; i++) dot += q[qo + i] * k[ko + i];
    s[j] = dot * scale;
  }
  return s;
}

function attentionForward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  shape: AttentionShape,
): void {
  const { batch, seqQ, seqK, headsQ, headsKV, headDim: d, scale, queryOffset } = shape;
  const group = headsQ / headsKV;
  const kStride = headsKV * d;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) {
      const kvh = Math.floor(h / group);
      const kBase = b * seqK * kStride + kvh * d;
      for (let i = 0; i < seqQ; i++) {
        const qo = ((b * seqQ + i) * headsQ + h) * d;
        const visible = Math.max(0, Math.min(seqK, i + queryOffset + 1));
        const s = scores(q, k, qo, kBase, kStride, visible, d, scale);
        let max = -Infinity;
        for (let j = 0; j < visible; j++) max = Math.max(max, s[j]);
        let sum = 0;
        for (let j = 0; j < visible; j++) sum += Math.exp(s[j] - max);
        const logSum = max + Math.log(sum);
        lse[(b * headsQ + h) * seqQ + i] = logSum;
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < visible; j++) acc += Math.exp(s[j] - logSum) * v[kBase + j * kStride + e];
          out[qo + e] = visible > 0 ? acc : 0;
        }
      }
    }
  }
}

function attentionBackward(
  dout: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  shape: AttentionShape,
): void {
  const { batch, seqQ, seqK, headsQ, headsKV, headDim: d, scale, queryOffset } = shape;
  const group = headsQ / headsKV;
  const kStride = headsKV * d;
  dq.fill(0, 0, batch * seqQ * headsQ * d);
  dk.fill(0, 0, batch * seqK * kStride);
  dv.fill(0, 0, batch * seqK * kStride);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) {
      const kvh = Math.floor(h / group);
      const kBase = b * seqK * kStride + kvh * d;
      for (let i = 0; i < seqQ; i++) {
        const qo = ((b * seqQ + i) * headsQ + h) * d;
        const visible = Math.max(0, Math.min(seqK, i + queryOffset + 1));
        const s = scores(q, k, qo, kBase, kStride, visible, d, scale);
        const logSum = lse[(b * headsQ + h) * seqQ + i];
        // D = rowsum(dO ∘ O); dS_j = P_j (dO·V_j − D).
        let delta = 0;
        for (let e = 0; e < d; e++) delta += dout[qo + e] * out[qo + e];
        for (let j = 0; j < visible; j++) {
          const p = Math.exp(s[j] - logSum);
          const ko = kBase + j * kStride;
          let dp = 0;
          for (let e = 0; e < d; e++) {
            dp += dout[qo + e] * v[ko + e];
            dv[ko + e] += p * dout[qo + e];
          }
          const ds = p * (dp - delta) * scale;
          for (let e = 0; e < d; e++) {
            dq[qo + e] += ds * k[ko + e];
            dk[ko + e] += ds * q[qo + e];
          }
        }
      }
    }
  }
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

function swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

function swigluBackward(
  dout: Float32Array,
  gate: Float32Array,
  up: Float32Array,
  dgate: Float32Array,
  dup: Float32Array,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sig = 1 / (1 + Math.exp(-g));
    const dy = dout[i];
    const u = up[i];
    dup[i] = dy * g * sig;
    dgate[i] = dy * u * sig * (1 + g * (1 - sig));
  }
}

function crossEntropyForward(
  logits: Float32Array,
  targets: Int32Array,
  losses: Float32Array,
  lse: Float32Array,
  rows: number,
  vocab: number,
  ignoreIndex: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, logits[o + i]);
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(logits[o + i] - max);
    const logSum = max + Math.log(sum);
    lse[r] = logSum;
    const t = targets[r];
    losses[r] = t === ignoreIndex ? 0 : logSum - logits[o + t];
  }
}

function crossEntropyBackward(
  logits: Float32Array,
  targets: Int32Array,
  lse: Float32Array,
  dlogits: Float32Array,
  rows: number,
  vocab: number,
  ignoreIndex: number,
  scale: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    const t = targets[r];
    if (t === ignoreIndex) {
      dlogits.fill(0, o, o + vocab);
      continue;
    }
    const logSum = lse[r];
    for (let i = 0; i < vocab; i++) dlogits[o + i] = scale * Math.exp(logits[o + i] - logSum);
    dlogits[o + t] -= scale;
  }
}

function embeddingForward(
  ids: Int32Array,
  table: Float32Array,
  out: Float32Array,
  n: number,
  dim: number,
): void {
  for (let i = 0; i < n; i++) out.set(table.subarray(ids[i] * dim, ids[i] * dim + dim), i * dim);
}

function embeddingBackward(
  ids: Int32Array,
  dout: Float32Array,
  dtable: Float32Array,
  n: number,
  dim: number,
): void {
  for (let i = 0; i < n; i++) {
    const o = ids[i] * dim;
    for (let e = 0; e < dim; e++) dtable[o + e] += dout[i * dim + e];
  }
}

function adamwStep(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  bc1: number,
  bc2: number,
): void {
  const decay = 1 - lr * weightDecay;
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    param[i] = param[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
  }
}

export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    threads: () => 1,
    setThreads: () => {},
    gemm,
    rmsnormForward,
    rmsnormBackward,
    rope,
    attentionForward,
    attentionBackward,
    swigluForward,
    swigluBackward,
    crossEntropyForward,
    crossEntropyBackward,
    embeddingForward,
    embeddingBackward,
    adamwStep,
    add(a, b, out, n) {
      for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    },
    mul(a, b, out, n) {
      for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
    },
    axpy(alpha, x, y, n) {
      for (let i = 0; i < n; i++) y[i] += alpha * x[i];
    },
    scale(x, alpha, n) {
      for (let i = 0; i < n; i++) x[i] *= alpha;
    },
    sumSquares(x, n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i] * x[i];
      return s;
    },
  };
}
