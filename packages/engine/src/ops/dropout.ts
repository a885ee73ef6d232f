// Inverted dropout with a seeded generator: kept values are scaled by 1/(1−p) so evaluation needs no change.
import { backend } from '../backend/index.ts';
import type { Random } from '../random.ts';
import { Tensor, addToGrad, record } from '../tensor.ts';

export function dropout(x: Tensor, p: number, random: Random): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: probability ${p} must be in [0, 1)`);
  if (p === 0) return x;
  const mask = new Float32Array(x.size);
  const keep = 1 / (1 - p);
  for (let i = 0; i < x.size; i++) mask[i] = random.uniform() >= p ? keep : 0;
  const out = Tensor.result(x.shape, [x]);
  backend().mul(x.data, mask, out.data, x.size);
  if (!out.requiresGrad) return out;
  record([x], out, () => addToGrad(x, (dx) => backend().mul(out.grad!, mask, dx, x.size)));
  return out;
}
