// Worker thread of tokenizer training: counts the pre-tokens of the chunks it is sent (see train.ts).
import { workerData } from 'node:worker_threads';
import { chunkTexts, type Chunk } from './corpus-reader.ts';
import { WordCounter } from './word-counter.ts';
import { serveRequests } from '../data/worker-pool.ts';

export interface CountWorkerData {
  pattern: string;
  specialTokens: string[];
  maxWords: number;
}

/** Count a chunk (replies with its size in bytes), or finish (replies with the counts). */
export type CountRequest = { kind: 'chunk'; chunk: Chunk } | { kind: 'finish' };

const { pattern, specialTokens, maxWords } = workerData as CountWorkerData;
const counter = new WordCounter(pattern, specialTokens, maxWords);

serveRequests((message) => {
  const request = message as CountRequest;
  if (request.kind === 'finish') return counter.result();
  for (const text of chunkTexts(request.chunk)) counter.add(text);
  return request.chunk.data.length;
});
