// The fine-tune preflight in one of the app's worker threads (../threads.ts): the studio's estimate, with each
// base model's config and tokenizer read once per file (from a GGUF's header, not its weights) and kept for the
// preflights after it.
import { statSync } from 'node:fs';
import {
  finetunePreflight,
  readBaseModelInfo,
  type BaseModelInfo,
  type FinetuneConfig,
  type FinetuneEstimate,
} from '@ownlm/studio';

/** Bases kept per thread, most recently used last (a large vocabulary's tokenizer holds tens of megabytes). */
const KEPT_BASES = 2;
const bases = new Map<string, BaseModelInfo>();

function baseOf(config: FinetuneConfig): BaseModelInfo {
  const { size, mtimeMs } = statSync(config.base);
  // A file replaced under the same name is another version, which its size or time tell apart.
  const key = `${config.base}\n${size}\n${mtimeMs}`;
  let base = bases.get(key);
  if (base) bases.delete(key);
  else base = readBaseModelInfo(config);
  bases.set(key, base);
  if (bases.size > KEPT_BASES) bases.delete(bases.keys().next().value!);
  return base;
}

/** The estimate, or the studio's message when it cannot make one from this base, dataset and settings. */
export function preflightInThread(
  config: FinetuneConfig,
): { estimate: FinetuneEstimate; error?: undefined } | { error: string } {
  try {
    return { estimate: finetunePreflight(config, baseOf(config)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
