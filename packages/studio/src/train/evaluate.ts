// Held-out quality numbers: perplexity and bits per byte over a text stream. Documents are encoded and joined
// with the end-of-text token as packing does, then cut into windows of context + 1 tokens that overlap by one,
// so every token after the first is predicted exactly once. Bits per byte divides the total negative
// log-likelihood (in bits) by the UTF-8 bytes of the documents, which makes models with different
// tokenizers comparable.
import { noGrad, type LlamaModel } from '@ownlm/engine';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface TextEvaluation {
  documents: number;
  /** Tokens whose likelihood was scored. */
  tokens: number;
  bytes: number;
  /** Mean negative log-likelihood per token, in nats. */
  loss: number;
  perplexity: number;
  bitsPerByte: number;
}

export interface EvaluateOptions {
  /** Tokens per window (at most the model's max_position_embeddings). */
  context: number;
  /** Windows per forward pass. */
  batch?: number;
  onProgress?: (windowsDone: number, windowsTotal: number) => void;
}

export function evaluateText(
  model: LlamaModel,
  tokenizer: Tokenizer,
  documents: Iterable<string>,
  options: EvaluateOptions,
): TextEvaluation {
  const { context } = options;
  const batch = options.batch ?? 8;
  if (context < 1 || context > model.config.max_position_embeddings) {
    throw new Error(
      `evaluate: context ${context} must be between 1 and the model's ${model.config.max_position_embeddings} positions`,
    );
  }
  const encoder = new TextEncoder();
  const stream: number[] = [];
  let bytes = 0;
  let count = 0;
  for (const text of documents) {
    for (const id of tokenizer.encode(text)) stream.push(id);
    if (tokenizer.eosId !== null) stream.push(tokenizer.eosId);
    bytes += encoder.encode(text).length;
    count++;
  }
  const windows: number[] = [];
  for (let start = 0; start + 1 < stream.length; start += context) windows.push(start);
  let nll = 0;
  let scored = 0;
  for (let w = 0; w < windows.length; w += batch) {
    const group = windows.slice(w, w + batch);
    // Every window in a forward pass has the full length; the last, shorter one is padded and its padding
    // targets ignored (−100).
    const inputs = new Int32Array(group.length * context);
    const targets = new Int32Array(group.length * context).fill(-100);
    group.forEach((start, row) => {
      for (let t = 0; t < context && start + t + 1 < stream.length; t++) {
        inputs[row * context + t] = stream[start + t];
        targets[row * context + t] = stream[start + t + 1];
      }
    });
    const counted = targets.reduce((n, t) => n + (t === -100 ? 0 : 1), 0);
    nll += noGrad(() => model.loss(inputs, targets, { batch: group.length, seq: context }).item()) * counted;
    scored += counted;
    options.onProgress?.(Math.min(w + batch, windows.length), windows.length);
  }
  const loss = scored > 0 ? nll / scored : Number.NaN;
  return {
    documents: count,
    tokens: scored,
    bytes,
    loss,
    perplexity: Math.exp(loss),
    bitsPerByte: nll / Math.LN2 / bytes,
  };
}
