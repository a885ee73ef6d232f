// The kernel set every backend implements. Kernels work on flat Float32Array views (zero-copy into native
// code) with explicit sizes; autograd, shapes and memory live above this layer. All matrices are row-major.
// Unless a kernel says "accumulates", it overwrites its outputs.

/** Parameters of a (batched) single-precision GEMM: C = alpha · op(A) · op(B) + beta · C. */
export interface GemmParams {
  /** op(A) = Aᵀ when true: A is stored K×M (leading dimension lda ≥ M) instead of M×K (lda ≥ K). */
  transA: boolean;
  /** op(B) = Bᵀ when true: B is stored N×K (ldb ≥ K) instead of K×N (ldb ≥ N). */
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  a: Float32Array;
  lda: number;
  b: Float32Array;
  ldb: number;
  /** 0 overwrites C (its old contents, even NaN, are ignored); 1 accumulates into it. */
  beta: number;
  c: Float32Array;
  ldc: number;
  /** Number of independent products; matrix i starts at i·stride in each array. Default 1. */
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

/** Sizes of a grouped-query causal attention call. */
export interface AttentionShape {
  batch: number;
  /** Query positions in this call. */
  seqQ: number;
  /** Key/value positions visible (for the KV cache: positions already cached plus this call's). */
  seqK: number;
  headsQ: number;
  /** headsQ must be a multiple of headsKV; query head h reads key/value head floor(h / (headsQ / headsKV)). */
  headsKV: number;
  headDim: number;
  /** Usually 1/sqrt(headDim). */
  scale: number;
  /** Absolute position of query 0 minus that of key 0; query i sees keys j ≤ i + queryOffset. */
  queryOffset: number;
}

export interface Backend {
  readonly name: 'native' | 'reference';
  /** Number of threads kernels may use (native only; the reference backend is single-threaded). */
  threads(): number;
  setThreads(count: number): void;

  gemm(p: GemmParams): void;

  /** out = x / rms(x) · weight per row of length dim; rstd[row] = 1 / sqrt(mean(x²) + eps). */
  rmsnormForward(
    x: Float32Array,
    weight: Float32Array,
    out: Float32Array,
    rstd: Float32Array,
    rows: number,
    dim: number,
    eps: number,
  ): void;
  /** dx overwritten; dweight accumulates (+=) the weight gradient summed over rows. */
  rmsnormBackward(
    dout: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dweight: Float32Array,
    rows: number,
    dim: number,
  ): void;

  /**
   * Rotary embedding in the Hugging Face Llama convention (rotate_half: dimension i pairs with i + d/2).
   * x and out are [batch, seq, heads, headDim]; cos and sin are [maxPositions, headDim/2] tables; the row of
   * position p is used for sequence index t where p = positionOffset + t. inverse rotates by −θ (the
   * backward pass). out may alias x.
   */
  rope(
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
  ): void;

  /**
   * Causal grouped-query attention without materializing the T×T matrix (flash-attention style).
   * q, out: [batch, seqQ, headsQ, headDim]; k, v: [batch, seqK, headsKV, headDim];
   * lse: [batch, headsQ, seqQ], the log-sum-exp of each query's scaled scores, kept for backward.
   */
  attentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    shape: AttentionShape,
  ): void;
  /** Gradients of attentionForward; dq, dk and dv are overwritten. Recomputes probabilities from lse. */
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
    shape: AttentionShape,
  ): void;

  /** out = silu(gate) · up, elementwise over n values. */
  swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void;
  /** dgate and dup overwritten. */
  swigluBackward(
    dout: Float32Array,
    gate: Float32Array,
    up: Float32Array,
    dgate: Float32Array,
    dup: Float32Array,
    n: number,
  ): void;

  /**
   * Softmax cross-entropy per row of logits [rows, vocab]. losses[row] = lse − logit[target] (0 where the
   * target equals ignoreIndex); lse[row] is kept for backward. Targets outside [0, vocab) other than
   * ignoreIndex are a caller bug.
   */
  crossEntropyForward(
    logits: Float32Array,
    targets: Int32Array,
    losses: Float32Array,
    lse: Float32Array,
    rows: number,
    vocab: number,
    ignoreIndex: number,
  ): void;
  /**
   * dlogits = scale · (softmax(logits) − onehot(target)) per row, zero for ignored rows.
   * dlogits may alias logits (the logits are then consumed).
   */
  crossEntropyBackward(
    logits: Float32Array,
    targets: Int32Array,
    lse: Float32Array,
    dlogits: Float32Array,
    rows: number,
    vocab: number,
    ignoreIndex: number,
    scale: number,
  ): void;

  /** out[i] = table[ids[i]] for n rows of length dim. */
  embeddingForward(ids: Int32Array, table: Float32Array, out: Float32Array, n: number, dim: number): void;
  /** dtable[ids[i]] += dout[i]; accumulates. */
  embeddingBackward(ids: Int32Array, dout: Float32Array, dtable: Float32Array, n: number, dim: number): void;

  /**
   * One AdamW step over n values, in place: m, v updated, then
   * param −= lr · (m / bc1) / (sqrt(v / bc2) + eps) + lr · weightDecay · param
   * (decoupled decay applied to the pre-update parameter, as PyTorch's AdamW). bc1 = 1 − beta1^t, bc2 = 1 − beta2^t.
   */
  adamwStep(
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
  ): void;

  /** out = a + b over n values (out may alias a or b). */
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  /** out = a · b elementwise (out may alias a or b). */
  mul(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  /** y += alpha · x over n values. */
  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void;
  /** x *= alpha over n values. */
  scale(x: Float32Array, alpha: number, n: number): void;
  /** Sum of squares of n values, accumulated in double precision. */
  sumSquares(x: Float32Array, n: number): number;
}
