// RMSNorm over the last dimension: x / sqrt(mean(x²) + eps) · weight (Llama, T5).
import { backend } from '../backend/index.ts';
import { allocate, release } from '../memory.ts';
import { Tensor, accumulateGrad, addToGrad, record } from '../tensor.ts';

export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const dim = x.shape[x.shape.length - 1];
  if (weight.size !== dim)
    throw new Error(`rmsnorm: weight has ${weight.size} values, last dimension is ${dim}`);
  const rows = x.size / dim;
  const out = Tensor.result(x.shape, [x, weight]);
  const rstd = new Float32Array(rows);
  backend().rmsnormForward(x.data, weight.data, out.data, rstd, rows, dim, eps);
  if (!out.requiresGrad) return out;
  record([x, weight], out, () => {
    // The kernel produces dx and accumulates dweight together; when weight needs no gradient it gets a scratch.
    const dweight = weight.requiresGrad ? null : allocate(dim);
    const run = (dx: Float32Array, dw: Float32Array) =>
      backend().rmsnormBackward(out.grad!, x.data, weight.data, rstd, dx, dw, rows, dim);
    if (x.requiresGrad) {
      if (dweight) addToGrad(x, (dx) => run(dx, dweight));
      else
        accumulateGrad(weight, (dw, acc) => {
          if (!acc) dw.fill(0);
          addToGrad(x, (dx) => run(dx, dw));
        });
    } else {
      const dx = allocate(x.size);
      accumulateGrad(weight, (dw, acc) => {
        if (!acc) dw.fill(0);
        run(dx, dw);
      });
      release(dx);
    }
    if (dweight) release(dweight);
  });
  return out;
}
