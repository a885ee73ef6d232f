// Softmax cross-entropy over the vocabulary with an ignore index (masked targets): the mean over counted targets
// as PyTorch's F.cross_entropy(reduction="mean"), and each sequence's summed target log-probability (the
// completion likelihood preference losses compare). The backward writes the logits gradient over the logits
// buffer when the loss is their only consumer: nothing else needs them then, and at a 32k vocabulary they are the largest tensor.
import { backend } from '../backend/index.ts';
import { Tensor, finishGrad, gradTarget, record } from '../tensor.ts';

/** PyTorch's ignore_index default. */
export const IGNORE_INDEX = -100;

/** Per-row losses −log softmax(logits)[target] (0 on ignored rows), the row log-sum-exps and the counted rows. */
function rowLosses(op: string, logits: Tensor, targets: Int32Array, ignoreIndex: number) {
  const vocab = logits.shape[logits.shape.length - 1];
  const rows = logits.size / vocab;
  if (targets.length !== rows) throw new Error(`${op}: ${targets.length} targets for ${rows} rows of logits`);
  let counted = 0;
  for (let i = 0; i < rows; i++) {
    const t = targets[i];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < vocab)) throw new Error(`${op}: target ${t} at row ${i} is outside [0, ${vocab})`);
    counted++;
  }
  const losses = new Float32Array(rows);
  const lse = new Float32Array(rows);
  backend().crossEntropyForward(logits.data, targets, losses, lse, rows, vocab, ignoreIndex);
  return { vocab, rows, counted, losses, lse };
}

/**
 * Writes the logits gradient, scale(r)·(softmax − onehot(target)) for the rows of each block given by
 * `blocks` ([first row, row count, scale] each), over the logits buffer when the loss is their only consumer.
 */
function logitsBackward(
  logits: Tensor,
  targets: Int32Array,
  lse: Float32Array,
  vocab: number,
  ignoreIndex: number,
  blocks: readonly (readonly [number, number, number])[],
): void {
  const reuse = logits.grad === null && !logits.isLeaf() && logits.consumers === 1;
  const target = reuse ? logits.data : gradTarget(logits);
  for (const [first, count, scale] of blocks) {
    const rows = (a: Float32Array) => a.subarray(first * vocab, (first + count) * vocab);
    backend().crossEntropyBackward(
      rows(logits.data),
      targets.subarray(first, first + count),
      lse.subarray(first, first + count),
      rows(target),
      count,
      vocab,
      ignoreIndex,
      scale,
    );
  }
  if (reuse) logits.grad = target;
  else finishGrad(logits, target);
}

/** logits [rows, vocab], targets [rows] → mean loss over targets ≠ ignoreIndex (0 when all are ignored). */
export function crossEntropy(logits: Tensor, targets: Int32Array, ignoreIndex = IGNORE_INDEX): Tensor {
  const { vocab, rows, counted, losses, lse } = rowLosses('crossEntropy', logits, targets, ignoreIndex);
  let total = 0;
  for (let i = 0; i < rows; i++) total += losses[i];
  const out = Tensor.result([1], [logits]);
  out.data[0] = counted > 0 ? total / counted : 0;
  if (!out.requiresGrad) return out;
  record([logits], out, () => {
    const scale = counted > 0 ? out.grad![0] / counted : 0;
    logitsBackward(logits, targets, lse, vocab, ignoreIndex, [[0, rows, scale]]);
  });
  return out;
}

/**
 * logits [sequences·seq, vocab], targets [sequences·seq] → [sequences]: each sequence's summed log-probability
 * of its targets, Σ log softmax(logits)[target] over its rows whose target ≠ ignoreIndex (0 when all are
 * ignored). Rows are laid out sequence after sequence, `seq` = rows / sequences each.
 */
export function sequenceLogProbs(
  logits: Tensor,
  targets: Int32Array,
  sequences: number,
  ignoreIndex = IGNORE_INDEX,
): Tensor {
  const { vocab, rows, losses, lse } = rowLosses('sequenceLogProbs', logits, targets, ignoreIndex);
  if (!(Number.isInteger(sequences) && sequences > 0 && rows % sequences === 0))
    throw new Error(`sequenceLogProbs: ${rows} rows do not split into ${sequences} sequences`);
  const seq = rows / sequences;
  const out = Tensor.result([sequences], [logits]);
  for (let b = 0; b < sequences; b++) {
    let total = 0;
    for (let r = b * seq; r < (b + 1) * seq; r++) total += losses[r];
    out.data[b] = -total;
  }
  if (!out.requiresGrad) return out;
  record([logits], out, () => {
    // d(log p)/d logits = onehot − softmax: the cross-entropy gradient scaled by −1 per unit of log p.
    const blocks = Array.from({ length: sequences }, (_, b) => [b * seq, seq, -out.grad![b]] as const);
    logitsBackward(logits, targets, lse, vocab, ignoreIndex, blocks);
  });
  return out;
}
