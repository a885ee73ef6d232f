// Autoregressive generation with a KV cache, streamed token by token through an async iterator.
import type { TokenIds } from '../ops/embedding.ts';
import type { LlamaModel } from '../model/llama.ts';
import { Random } from '../random.ts';
import { sampleToken, validateSampling, type SamplingOptions } from './sampling.ts';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Generation ends after emitting one of these ids (the stop token is yielded). */
  stopTokens?: readonly number[];
  /** Seed of the sampler; the same seed, prompt and options give the same tokens. */
  seed?: number;
  /** Recompute the whole sequence each step instead of using the KV cache (for testing the cache). */
  noCache?: boolean;
}

/** Yields new token ids one at a time, ending at maxNewTokens, a stop token or the context limit. */
export async function* generate(
  model: LlamaModel,
  prompt: TokenIds,
  options: GenerateOptions,
): AsyncGenerator<number> {
  for (const token of generateTokens(model, prompt, options)) {
    yield token;
    // Let the event loop serve other work between tokens.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Synchronous generation, one id per iteration. */
export function* generateTokens(
  model: LlamaModel,
  prompt: TokenIds,
  options: GenerateOptions,
): Generator<number> {
  validateSampling(options);
  if (prompt.length === 0) throw new Error('generate: the prompt needs at least one token');
  const limit = model.config.max_position_embeddings;
  if (prompt.length >= limit)
    throw new Error(`generate: the prompt of ${prompt.length} tokens fills the context of ${limit}`);
  const random = new Random(options.seed ?? 0);
  const stop = new Set(options.stopTokens ?? []);
  const sequence = Array.from(prompt);
  const cache = options.noCache
    ? undefined
    : model.createCache(Math.min(limit, prompt.length + options.maxNewTokens));
  let pending = Int32Array.from(prompt);
  for (let i = 0; i < options.maxNewTokens && sequence.length < limit; i++) {
    const logits = model.nextTokenLogits(cache ? pending : Int32Array.from(sequence), cache);
    const token = sampleToken(logits, sequence, options, random);
    sequence.push(token);
    yield token;
    if (stop.has(token)) return;
    pending = Int32Array.of(token);
  }
}
