// Next-token selection from logits, in the Hugging Face processor order: repetition penalty, temperature,
// top-k, top-p, then a draw from the softmax. Temperature 0 is greedy (argmax, lowest id on ties).
import type { Random } from '../random.ts';

export interface SamplingOptions {
  /** 0 = greedy; default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** > 1 discourages tokens already in the sequence (CTRL paper, as Hugging Face applies it). */
  repetitionPenalty?: number;
}

export function validateSampling(options: SamplingOptions): void {
  const { temperature = 1, topK = 0, topP = 1, repetitionPenalty = 1 } = options;
  if (!(temperature >= 0 && Number.isFinite(temperature)))
    throw new Error(`sampling: temperature must be ≥ 0, got ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0))
    throw new Error(`sampling: topK must be a non-negative integer, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampling: topP must be in (0, 1], got ${topP}`);
  if (!(repetitionPenalty > 0 && Number.isFinite(repetitionPenalty))) {
    throw new Error(`sampling: repetitionPenalty must be > 0, got ${repetitionPenalty}`);
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Picks the next token id. `seen` are the ids of the sequence so far (for the repetition penalty). */
export function sampleToken(
  logits: Float32Array,
  seen: Iterable<number>,
  options: SamplingOptions,
  random: Random,
): number {
  const { temperature = 1, topK = 0, topP = 1, repetitionPenalty = 1 } = options;
  const scores = Float64Array.from(logits);
  if (repetitionPenalty !== 1) {
    for (const id of new Set(seen))
      scores[id] = scores[id] > 0 ? scores[id] / repetitionPenalty : scores[id] * repetitionPenalty;
  }
  if (temperature === 0) return argmax(scores);

  let candidates = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  if (topK > 0) candidates = candidates.slice(0, topK);
  const max = scores[candidates[0]];
  let probs = candidates.map((id) => Math.exp((scores[id] - max) / temperature));
  let total = probs.reduce((s, p) => s + p, 0);
  if (topP < 1) {
    let cumulative = 0;
    let keep = 0;
    while (keep < candidates.length && cumulative < topP * total) cumulative += probs[keep++];
    candidates = candidates.slice(0, Math.max(1, keep));
    probs = probs.slice(0, candidates.length);
    total = probs.reduce((s, p) => s + p, 0);
  }
  let r = random.uniform() * total;
  for (let i = 0; i < candidates.length; i++) {
    r -= probs[i];
    if (r < 0) return candidates[i];
  }
  return candidates[candidates.length - 1];
}
