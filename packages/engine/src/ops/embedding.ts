// Embedding lookup: rows of a table gathered by token id; the backward scatter-adds into the table gradient.
import { backend } from '../backend/index.ts';
import { Tensor, accumulateGrad, record } from '../tensor.ts';

/** Int32 token ids. */
export type TokenIds = Int32Array;

/** table [vocab, dim] gathered at ids → [ids.length, dim]. */
export function embedding(table: Tensor, ids: TokenIds): Tensor {
  const [vocab, dim] = table.shape;
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < vocab))
      throw new Error(`embedding: token id ${ids[i]} at position ${i} is outside [0, ${vocab})`);
  }
  const out = Tensor.result([ids.length, dim], [table]);
  backend().embeddingForward(ids, table.data, out.data, ids.length, dim);
  if (!out.requiresGrad) return out;
  record([table], out, () => {
    accumulateGrad(table, (dt, acc) => {
      if (!acc) dt.fill(0);
      backend().embeddingBackward(ids, out.grad!, dt, ids.length, dim);
    });
  });
  return out;
}
