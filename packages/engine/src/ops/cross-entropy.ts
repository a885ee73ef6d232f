// Softmax cross-entropy over the vocabulary with an ignore index (masked targets), mean over counted targets
// as PyTorch's F.cross_entropy(reduction="mean"). The backward writes the logits gradient over the logits
// buffer when the loss is their only consumer: nothing else needs them then, and at a 32k vocabulary they are the largest tensor.
import { backend } from '../backend/index.ts';
import { Tensor, finishGrad, gradTarget, record } from '../tensor.ts';

/** PyTorch's ignore_index default. */
export const IGNORE_INDEX = -100;

/** logits [rows, vocab], targets [rows] → mean loss over targets ≠ ignoreIndex (0 when all are ignored). */
export function crossEntropy(logits: Tensor, targets: Int32Array, ignoreIndex = IGNORE_INDEX): Tensor {
  const vocab = logits.shape[logits.shape.length - 1];
  const rows = logits.size / vocab;
  if (targets.length !== rows)
    throw new Error(`crossEntropy: ${targets.length} targets for ${rows} rows of logits`);
  let counted = 0;
  for (let i = 0; i < rows; i++) {
    const t = targets[i];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < vocab))
      throw new Error(`crossEntropy: target ${t} at row ${i} is outside [0, ${vocab})`);
    counted++;
  }
  const losses = new Float32Array(rows);
  const lse = new Float32Array(rows);
  backend().crossEntropyForward(logits.data, targets, losses, lse, rows, vocab, ignoreIndex);
  let total = 0;
  for (let i = 0; i < rows; i++) total += losses[i];
  const out = Tensor.result([1], [logits]);
  out.data[0] = counted > 0 ? total / counted : 0;
  if (!out.requiresGrad) return out;
  record([logits], out, () => {
    const scale = counted > 0 ? out.grad![0] / counted : 0;
    const reuse = logits.grad === null && !logits.isLeaf() && logits.consumers === 1;
    const target = reuse ? logits.data : gradTarget(logits);
    backend().crossEntropyBackward(logits.data, targets, lse, target, rows, vocab, ignoreIndex, scale);
    if (reuse) logits.grad = target;
    else finishGrad(logits, target);
  });
  return out;
}
