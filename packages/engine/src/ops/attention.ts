// Causal grouped-query self-attention, fused: the kernel never keeps a T×T score matrix; backward recomputes
// probabilities from the saved log-sum-exp (as flash attention does).
import type { AttentionShape } from '../backend/backend.ts';
import { backend } from '../backend/index.ts';
import { Tensor, finishGrad, gradTarget, record } from '../tensor.ts';

/**
 * q [batch·seqQ, headsQ·headDim], k and v [batch·seqK, headsKV·headDim] (memory layout [batch, seq, heads,
 * headDim], as a projection produces it) → [batch·seqQ, headsQ·headDim].
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape): Tensor {
  const { batch, seqQ, seqK, headsQ, headsKV, headDim } = shape;
  if (headsQ % headsKV !== 0)
    throw new Error(`attention: ${headsQ} query heads are not a multiple of ${headsKV} key/value heads`);
  if (q.size !== batch * seqQ * headsQ * headDim)
    throw new Error('attention: q does not match the attention shape');
  if (k.size < batch * seqK * headsKV * headDim || v.size < batch * seqK * headsKV * headDim) {
    throw new Error('attention: k or v is smaller than the attention shape');
  }
  const out = Tensor.result(q.shape, [q, k, v]);
  const lse = new Float32Array(batch * headsQ * seqQ);
  backend().attentionForward(q.data, k.data, v.data, out.data, lse, shape);
  if (!out.requiresGrad) return out;
  record([q, k, v], out, () => {
    const dq = gradTarget(q);
    const dk = gradTarget(k);
    const dv = gradTarget(v);
    backend().attentionBackward(out.grad!, q.data, k.data, v.data, out.data, lse, dq, dk, dv, shape);
    finishGrad(q, dq);
    finishGrad(k, dk);
    finishGrad(v, dv);
  });
  return out;
}
