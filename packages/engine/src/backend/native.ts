// Adapter from the native addon (packages/engine/native, C++ over N-API) to the Backend interface. The addon
// checks every size against its buffers and throws TypeError/RangeError instead of touching memory it was
// not given. OWNLM_ISA=scalar|avx2|avx512 forces an instruction set (at most the best this CPU supports).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Backend } from './backend.ts';

/** The addon's exports, positional and C-like (see native/src/ownlm.h). */
interface Addon {
  isa(): string;
  bestIsa(): string;
  selectIsa(name: string): boolean;
  threads(): number;
  setThreads(count: number): void;
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
  ): void;
  rmsnormForward: Backend['rmsnormForward'];
  rmsnormBackward: Backend['rmsnormBackward'];
  rope: Backend['rope'];
  attentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    ...shape: number[]
  ): void;
  attentionBackward(
    dout: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    ...shape: number[]
  ): void;
  swigluForward: Backend['swigluForward'];
  swigluBackward: Backend['swigluBackward'];
  crossEntropyForward: Backend['crossEntropyForward'];
  crossEntropyBackward: Backend['crossEntropyBackward'];
  embeddingForward: Backend['embeddingForward'];
  embeddingBackward: Backend['embeddingBackward'];
  adamwStep: Backend['adamwStep'];
  add: Backend['add'];
  mul: Backend['mul'];
  axpy: Backend['axpy'];
  scale: Backend['scale'];
  sumSquares: Backend['sumSquares'];
}

/** Where `npm install` (native/build.mjs) puts the addon. */
export const nativeAddonPath = fileURLToPath(
  new URL('../../native/build/Release/ownlm.node', import.meta.url),
);

const ISAS = ['scalar', 'avx2', 'avx512'];

let addon: Addon | null | undefined;

function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  if (!existsSync(nativeAddonPath)) return (addon = null);
  let loaded: Addon;
  try {
    loaded = createRequire(import.meta.url)(nativeAddonPath) as Addon;
  } catch (error) {
    throw new Error(`ownlm: ${nativeAddonPath} exists but does not load; rebuild it with \`npm install\``, {
      cause: error,
    });
  }
  const forced = process.env.OWNLM_ISA;
  if (forced) {
    if (!ISAS.includes(forced)) throw new Error(`OWNLM_ISA=${forced} is not one of ${ISAS.join(', ')}`);
    if (!loaded.selectIsa(forced)) {
      throw new Error(`OWNLM_ISA=${forced} is not available on this CPU (best: ${loaded.bestIsa()})`);
    }
  }
  return (addon = loaded);
}

/** The instruction set the kernels run with and the best one available, or null without the addon. */
export function nativeInfo(): { isa: string; bestIsa: string } | null {
  const a = loadAddon();
  return a ? { isa: a.isa(), bestIsa: a.bestIsa() } : null;
}

/** The native backend, or null when the addon was not built (the caller falls back to the reference). */
export function loadNativeBackend(): Backend | null {
  const a = loadAddon();
  if (!a) return null;
  return {
    name: 'native',
    threads: () => a.threads(),
    setThreads: (count) => a.setThreads(count),
    gemm: (p) =>
      a.gemm(
        p.transA,
        p.transB,
        p.m,
        p.n,
        p.k,
        p.alpha,
        p.a,
        p.lda,
        p.b,
        p.ldb,
        p.beta,
        p.c,
        p.ldc,
        p.batch ?? 1,
        p.strideA ?? 0,
        p.strideB ?? 0,
        p.strideC ?? 0,
      ),
    rmsnormForward: (x, weight, out, rstd, rows, dim, eps) =>
      a.rmsnormForward(x, weight, out, rstd, rows, dim, eps),
    rmsnormBackward: (dout, x, weight, rstd, dx, dweight, rows, dim) =>
      a.rmsnormBackward(dout, x, weight, rstd, dx, dweight, rows, dim),
    rope: (x, out, cos, sin, batch, seq, heads, headDim, positionOffset, inverse) =>
      a.rope(x, out, cos, sin, batch, seq, heads, headDim, positionOffset, inverse),
    attentionForward: (q, k, v, out, lse, s) =>
      a.attentionForward(
        q,
        k,
        v,
        out,
        lse,
        s.batch,
        s.seqQ,
        s.seqK,
        s.headsQ,
        s.headsKV,
        s.headDim,
        s.scale,
        s.queryOffset,
      ),
    attentionBackward: (dout, q, k, v, out, lse, dq, dk, dv, s) =>
      a.attentionBackward(
        dout,
        q,
        k,
        v,
        out,
        lse,
        dq,
        dk,
        dv,
        s.batch,
        s.seqQ,
        s.seqK,
        s.headsQ,
        s.headsKV,
        s.headDim,
        s.scale,
        s.queryOffset,
      ),
    swigluForward: (gate, up, out, n) => a.swigluForward(gate, up, out, n),
    swigluBackward: (dout, gate, up, dgate, dup, n) => a.swigluBackward(dout, gate, up, dgate, dup, n),
    crossEntropyForward: (logits, targets, losses, lse, rows, vocab, ignoreIndex) =>
      a.crossEntropyForward(logits, targets, losses, lse, rows, vocab, ignoreIndex),
    crossEntropyBackward: (logits, targets, lse, dlogits, rows, vocab, ignoreIndex, scale) =>
      a.crossEntropyBackward(logits, targets, lse, dlogits, rows, vocab, ignoreIndex, scale),
    embeddingForward: (ids, table, out, n, dim) => a.embeddingForward(ids, table, out, n, dim),
    embeddingBackward: (ids, dout, dtable, n, dim) => a.embeddingBackward(ids, dout, dtable, n, dim),
    adamwStep: (param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2) =>
      a.adamwStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2),
    add: (x, y, out, n) => a.add(x, y, out, n),
    mul: (x, y, out, n) => a.mul(x, y, out, n),
    axpy: (alpha, x, y, n) => a.axpy(alpha, x, y, n),
    scale: (x, alpha, n) => a.scale(x, alpha, n),
    sumSquares: (x, n) => a.sumSquares(x, n),
  };
}
