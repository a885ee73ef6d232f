// Elementwise arithmetic. b may broadcast over a when b's shape equals a's trailing dimensions (a bias over
// rows); the broadcast gradient sums over the repeated rows.
import { backend } from '../backend/index.ts';
import { allocate, release } from '../memory.ts';
import { Tensor, accumulateGrad, addToGrad, record } from '../tensor.ts';

function broadcastRows(a: Tensor, b: Tensor, op: string): number {
  if (a.size === b.size && a.shape.join() === b.shape.join()) return 1;
  const trailing = a.shape.slice(a.shape.length - b.shape.length);
  if (b.shape.length > a.shape.length || trailing.join() !== b.shape.join()) {
    throw new Error(`${op}: shape [${b.shape.join(', ')}] does not broadcast to [${a.shape.join(', ')}]`);
  }
  return a.size / b.size;
}

/** Sums `rows` consecutive blocks of length n from src into dst (accumulating when asked). */
function sumRows(src: Float32Array, dst: Float32Array, rows: number, n: number, accumulate: boolean): void {
  if (!accumulate) dst.fill(0, 0, n);
  for (let r = 0; r < rows; r++) backend().axpy(1, src.subarray(r * n, (r + 1) * n), dst, n);
}

export function add(a: Tensor, b: Tensor): Tensor {
  const rows = broadcastRows(a, b, 'add');
  const out = Tensor.result(a.shape, [a, b]);
  const be = backend();
  if (rows === 1) be.add(a.data, b.data, out.data, a.size);
  else
    for (let r = 0; r < rows; r++)
      be.add(a.data.subarray(r * b.size), b.data, out.data.subarray(r * b.size), b.size);
  if (!out.requiresGrad) return out;
  record([a, b], out, () => {
    const g = out.grad!;
    accumulateGrad(a, (da, acc) => (acc ? be.add(da, g, da, a.size) : da.set(g)));
    accumulateGrad(b, (db, acc) => {
      if (rows === 1) return acc ? be.add(db, g, db, b.size) : db.set(g);
      sumRows(g, db, rows, b.size, acc);
    });
  });
  return out;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const rows = broadcastRows(a, b, 'mul');
  const out = Tensor.result(a.shape, [a, b]);
  const be = backend();
  if (rows === 1) be.mul(a.data, b.data, out.data, a.size);
  else
    for (let r = 0; r < rows; r++)
      be.mul(a.data.subarray(r * b.size), b.data, out.data.subarray(r * b.size), b.size);
  if (!out.requiresGrad) return out;
  record([a, b], out, () => {
    const g = out.grad!;
    addToGrad(a, (da) => {
      if (rows === 1) be.mul(g, b.data, da, a.size);
      else
        for (let r = 0; r < rows; r++)
          be.mul(g.subarray(r * b.size), b.data, da.subarray(r * b.size), b.size);
    });
    accumulateGrad(b, (db, acc) => {
      if (rows === 1) {
        if (!acc) return be.mul(g, a.data, db, b.size);
        const scratch = allocate(b.size);
        be.mul(g, a.data, scratch, b.size);
        be.add(db, scratch, db, b.size);
        release(scratch);
        return;
      }
      const prod = allocate(a.size);
      be.mul(g, a.data, prod, a.size);
      sumRows(prod, db, rows, b.size, acc);
      release(prod);
    });
  });
  return out;
}

/** a · s for a constant s. */
export function scale(a: Tensor, s: number): Tensor {
  const out = Tensor.result(a.shape, [a]);
  out.data.set(a.data);
  backend().scale(out.data, s, a.size);
  if (!out.requiresGrad) return out;
  record([a], out, () => {
    accumulateGrad(a, (da, acc) => {
      if (!acc) da.fill(0);
      backend().axpy(s, out.grad!, da, a.size);
    });
  });
  return out;
}

/** Sum of all values, as a one-element tensor. */
export function sum(a: Tensor): Tensor {
  const out = Tensor.result([1], [a]);
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i];
  out.data[0] = s;
  if (!out.requiresGrad) return out;
  record([a], out, () => {
    const g = out.grad![0];
    accumulateGrad(a, (da, acc) => {
      if (!acc) da.fill(g);
      else for (let i = 0; i < a.size; i++) da[i] += g;
    });
  });
  return out;
}

/** Mean of all values, as a one-element tensor. */
export function mean(a: Tensor): Tensor {
  return scale(sum(a), 1 / a.size);
}
