// Worker thread of `ownlm data pack`: encodes the documents of the JSONL chunks it is sent (see pack.ts).
import { workerData } from 'node:worker_threads';
import { chunkTexts, type Chunk } from '../tokenizer/corpus-reader.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { DataError } from './errors.ts';
import type { TokenDtype } from './token-shards.ts';
import { serveRequests } from './worker-pool.ts';

export interface PackWorkerData {
  tokenizer: string;
  /** The hash the main thread loaded, so a tokenizer file replaced mid-run is caught. */
  sha256: string;
  eotId: number;
  dtype: TokenDtype;
}

export interface EncodedChunk {
  documents: number;
  /** Every document's ids followed by the end-of-text id, in the shard dtype. */
  tokens: Uint16Array | Uint32Array;
}

const { tokenizer: path, sha256, eotId, dtype } = workerData as PackWorkerData;
const tokenizer = Tokenizer.fromFile(path);
if (tokenizer.hash !== sha256)
  throw new DataError('input-invalid', `${path}: changed while packing; run the pack again`);

serveRequests((message): EncodedChunk => {
  // Corpus text is data: a literal "<|im_end|>" in a document stays text, never a control token.
  const encoded = chunkTexts(message as Chunk).map((text) =>
    tokenizer.encode(text, { addSpecialTokens: false, parseSpecial: false }),
  );
  const length = encoded.reduce((sum, ids) => sum + ids.length + 1, 0);
  const tokens = dtype === 'uint16' ? new Uint16Array(length) : new Uint32Array(length);
  let offset = 0;
  for (const ids of encoded) {
    tokens.set(ids, offset);
    tokens[offset + ids.length] = eotId;
    offset += ids.length + 1;
  }
  return { documents: encoded.length, tokens };
});
