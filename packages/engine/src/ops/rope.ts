// Rotary position embedding in the Hugging Face Llama convention (rotate_half), with cached cos/sin tables.
import { backend } from '../backend/index.ts';
import { Tensor, addToGrad, record } from '../tensor.ts';

/** cos/sin tables [maxPositions, headDim/2] for θ_i = base^(−2i/headDim), computed in float64. */
export interface RopeTables {
  cos: Float32Array;
  sin: Float32Array;
  headDim: number;
  maxPositions: number;
}

export function ropeTables(headDim: number, maxPositions: number, theta: number): RopeTables {
  if (headDim % 2 !== 0) throw new Error(`rope: head dimension ${headDim} must be even`);
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let i = 0; i < half; i++) {
    // HF computes inv_freq in float32 and the angles as float32 products; we round the same way.
    const invFreq = Math.fround(1 / Math.pow(theta, (2 * i) / headDim));
    for (let p = 0; p < maxPositions; p++) {
      const angle = Math.fround(p * invFreq);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin, headDim, maxPositions };
}

export interface RopeLayout {
  batch: number;
  seq: number;
  heads: number;
  /** Position of sequence index 0 (non-zero when continuing from a KV cache). */
  positionOffset: number;
}

/** Rotates x [batch·seq, heads·headDim] (or any shape with that memory layout) by its positions. */
export function rope(x: Tensor, tables: RopeTables, layout: RopeLayout): Tensor {
  const { batch, seq, heads, positionOffset } = layout;
  const { headDim } = tables;
  if (x.size !== batch * seq * heads * headDim) {
    throw new Error(
      `rope: ${x.size} values do not match batch ${batch} × seq ${seq} × heads ${heads} × ${headDim}`,
    );
  }
  if (positionOffset + seq > tables.maxPositions) {
    throw new Error(
      `rope: position ${positionOffset + seq - 1} exceeds the table of ${tables.maxPositions} positions`,
    );
  }
  const out = Tensor.result(x.shape, [x]);
  backend().rope(x.data, out.data, tables.cos, tables.sin, batch, seq, heads, headDim, positionOffset, false);
  if (!out.requiresGrad) return out;
  record([x], out, () => {
    addToGrad(x, (dx) =>
      backend().rope(out.grad!, dx, tables.cos, tables.sin, batch, seq, heads, headDim, positionOffset, true),
    );
  });
  return out;
}
