// Gradient clipping by global L2 norm (PyTorch's clip_grad_norm_).
import { backend } from '../backend/index.ts';
import type { Tensor } from '../tensor.ts';

/** Scales all gradients so their joint L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const be = backend();
  const withGrad = [...params].filter((p) => p.grad !== null);
  let sumSquares = 0;
  for (const p of withGrad) sumSquares += be.sumSquares(p.grad!, p.size);
  const norm = Math.sqrt(sumSquares);
  // PyTorch adds 1e-6 to the norm in the divisor and only ever scales down.
  const factor = maxNorm / (norm + 1e-6);
  if (factor < 1) for (const p of withGrad) be.scale(p.grad!, factor, p.size);
  return norm;
}
