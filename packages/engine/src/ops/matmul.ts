// Matrix multiplication with optional transposed operands, batched over leading dimensions.
import { backend } from '../backend/index.ts';
import { Tensor, accumulateGrad, record, type Shape } from '../tensor.ts';

export interface MatmulOptions {
  /** Use aᵀ: a's last two dims are [k, m]. */
  transA?: boolean;
  /** Use bᵀ: b's last two dims are [n, k] (a PyTorch Linear weight [out, in] is used this way). */
  transB?: boolean;
}

interface Product {
  batch: number;
  m: number;
  n: number;
  k: number;
}

/** C = op(A)·op(B) with the leading dimensions given by stored shapes; beta = 1 accumulates into C. */
function gemmStored(
  transA: boolean,
  transB: boolean,
  { batch, m, n, k }: Product,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  beta: number,
  strideA: number,
  strideB: number,
): void {
  backend().gemm({
    transA,
    transB,
    m,
    n,
    k,
    alpha: 1,
    a,
    lda: transA ? m : k,
    b,
    ldb: transB ? k : n,
    beta,
    c,
    ldc: n,
    batch,
    strideA,
    strideB,
    strideC: m * n,
  });
}

function matrixDims(shape: Shape, name: string): [number, number, Shape] {
  if (shape.length < 2)
    throw new Error(`matmul: ${name} needs at least 2 dimensions, got [${shape.join(', ')}]`);
  return [shape[shape.length - 2], shape[shape.length - 1], shape.slice(0, -2)];
}

/**
 * op(a)·op(b). a is [...batch, m, k] (or [...batch, k, m] with transA); b is [...batch, k, n] with the same
 * batch dimensions, or 2-D [k, n] shared by every batch entry (or [n, k] with transB).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const [ar, ac, batchShape] = matrixDims(a.shape, 'a');
  const [br, bc, bBatchShape] = matrixDims(b.shape, 'b');
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  const shared = bBatchShape.length === 0;
  if (k !== kb || (!shared && bBatchShape.join() !== batchShape.join())) {
    throw new Error(`matmul: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not multiply`);
  }
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const out = Tensor.result([...batchShape, m, n], [a, b]);

  // A shared right operand with an untransposed left one is one tall product over all batch rows.
  const flat = shared && !transA;
  const product: Product = flat ? { batch: 1, m: batch * m, n, k } : { batch, m, n, k };
  const strideA = flat ? 0 : m * k;
  const strideB = shared ? 0 : k * n;
  gemmStored(transA, transB, product, a.data, b.data, out.data, 0, strideA, strideB);
  if (!out.requiresGrad) return out;

  record([a, b], out, () => {
    const dc = out.grad!;
    accumulateGrad(a, (da, acc) => {
      if (!transA)
        gemmStored(
          false,
          !transB,
          { ...product, n: product.k, k: product.n },
          dc,
          b.data,
          da,
          acc ? 1 : 0,
          product.m * product.n,
          strideB,
        );
      else gemmStored(transB, true, { batch, m: k, n: m, k: n }, b.data, dc, da, acc ? 1 : 0, strideB, m * n);
    });
    accumulateGrad(b, (db, acc) => {
      if (shared && product.batch > 1) {
        // The shared operand's gradient sums over the batch; products run one after another into db.
        for (let i = 0; i < batch; i++) {
          const ai = a.data.subarray(i * m * k, (i + 1) * m * k);
          const ci = dc.subarray(i * m * n, (i + 1) * m * n);
          const single: Product = { batch: 1, m: transB ? n : k, n: transB ? k : n, k: m };
          if (!transB) gemmStored(!transA, false, single, ai, ci, db, acc || i > 0 ? 1 : 0, 0, 0);
          else gemmStored(true, transA, single, ci, ai, db, acc || i > 0 ? 1 : 0, 0, 0);
        }
        return;
      }
      const rows = product.m;
      const strideOut = rows * n;
      if (!transB)
        gemmStored(
          !transA,
          false,
          { batch: product.batch, m: k, n, k: rows },
          a.data,
          dc,
          db,
          acc ? 1 : 0,
          strideA,
          strideOut,
        );
      else
        gemmStored(
          true,
          transA,
          { batch: product.batch, m: n, n: k, k: rows },
          dc,
          a.data,
          db,
          acc ? 1 : 0,
          strideOut,
          strideA,
        );
    });
  });
  return out;
}

/** A Linear layer in PyTorch layout: x [..., in] · weightᵀ with weight [out, in]. */
export function linear(x: Tensor, weight: Tensor): Tensor {
  return matmul(x, weight, { transB: true });
}
