// `ownlm data pack`: encodes a prepared corpus (train.jsonl and, when present, validation.jsonl) in worker
// threads and writes token shards with their index.json (format in token-shards.ts). Documents are joined in
// corpus order, each followed by the end-of-text token, whatever the number of threads; the shard dtype is
// uint16 when every id fits, else uint32. Output appears whole or not at all.
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, endianness } from 'node:os';
import { join } from 'node:path';
import { readChunks, resolveCorpusFiles, type CorpusFile } from '../tokenizer/corpus-reader.ts';
import { abandonOutput, finishOutput, startOutput } from '../tokenizer/publish.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { WorkerPool } from './worker-pool.ts';
import { DataError } from './errors.ts';
import type { EncodedChunk, PackWorkerData } from './pack-worker.ts';
import {
  BYTES_PER_TOKEN,
  type ShardFile,
  type ShardIndex,
  type SplitIndex,
  type TokenDtype,
} from './token-shards.ts';

export interface PackOptions {
  /** A prepared corpus folder (`ownlm data prepare` output). */
  corpus: string;
  /** A tokenizer folder or tokenizer.json; its eos_token separates documents. */
  tokenizer: string;
  outDir: string;
  /** Tokens per shard file (default 2^26, 128 MiB of uint16). */
  shardTokens?: number;
  /** Encoding threads (default: one per core). */
  workers?: number;
  /** Replace a non-empty outDir. */
  overwrite?: boolean;
  /** Input bytes encoded so far, against the corpus size. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

const SPLITS = ['train', 'validation'] as const;

export async function packCorpus(options: PackOptions): Promise<ShardIndex> {
  const shardTokens = options.shardTokens ?? 2 ** 26;
  const workers = options.workers ?? availableParallelism();
  if (!Number.isSafeInteger(shardTokens) || shardTokens < 1)
    throw new DataError('options-invalid', 'shard tokens must be a positive integer');
  if (!Number.isInteger(workers) || workers < 1)
    throw new DataError('options-invalid', 'workers must be a positive integer');
  if (endianness() !== 'LE')
    throw new DataError('input-unsupported', 'token shards are little-endian; this machine is big-endian');
  const tokenizer = Tokenizer.fromFile(options.tokenizer);
  const eotId = tokenizer.eosId;
  if (eotId === null) {
    throw new DataError(
      'input-invalid',
      `${options.tokenizer}: the tokenizer has no eos_token to separate documents; set one in tokenizer_config.json`,
    );
  }
  const dtype: TokenDtype = tokenizer.vocabSize <= 2 ** 16 ? 'uint16' : 'uint32';
  const files = new Map<string, CorpusFile>();
  for (const split of SPLITS) {
    try {
      files.set(split, resolveCorpusFiles([options.corpus], split)[0]);
    } catch (error) {
      if (split === 'train' || (error as DataError).code !== 'input-not-found') throw error;
    }
  }
  const total = [...files.values()].reduce((sum, f) => sum + f.bytes, 0);
  let done = 0;

  const temp = startOutput(options.outDir, options.overwrite ?? false);
  const data: PackWorkerData = { tokenizer: options.tokenizer, sha256: tokenizer.hash, eotId, dtype };
  const pool = new WorkerPool(new URL('./pack-worker.ts', import.meta.url), data, workers);
  let writer: ShardWriter | null = null;
  try {
    const splits: Record<string, SplitIndex> = {};
    for (const [split, file] of files) {
      writer = new ShardWriter(temp, split, dtype, shardTokens);
      let documents = 0;
      const take = (encoded: EncodedChunk, bytes: number) => {
        writer!.write(encoded.tokens);
        documents += encoded.documents;
        done += bytes;
        options.onProgress?.({ done, total });
      };
      // Replies are taken in request order, so the shards do not depend on which thread finished first.
      const queue: [Promise<EncodedChunk>, number][] = [];
      for await (const chunk of readChunks(file)) {
        const reply = pool.run<EncodedChunk>(chunk);
        reply.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
        queue.push([reply, chunk.data.length]);
        while (queue.length >= workers * 2) {
          const [next, bytes] = queue.shift()!;
          take(await next, bytes);
        }
      }
      for (const [next, bytes] of queue) take(await next, bytes);
      const shards = writer.finish();
      splits[split] = { documents, tokens: shards.reduce((sum, s) => sum + s.tokens, 0), shards };
    }
    const index: ShardIndex = {
      format: 'ownlm-token-shards',
      version: 1,
      tokenizer: { sha256: tokenizer.hash, vocabSize: tokenizer.vocabSize, eotId },
      dtype,
      splits,
    };
    writeFileSync(join(temp, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
    finishOutput(temp, options.outDir);
    return index;
  } catch (error) {
    writer?.finish();
    abandonOutput(temp);
    throw error;
  } finally {
    await pool.close();
  }
}

/** Appends tokens to `<split>-NNNNN.bin` files of at most shardTokens tokens each. */
class ShardWriter {
  private readonly shards: ShardFile[] = [];
  private fd = -1;
  private inShard = 0;

  constructor(
    private readonly dir: string,
    private readonly split: string,
    private readonly dtype: TokenDtype,
    private readonly shardTokens: number,
  ) {}

  write(tokens: Uint16Array | Uint32Array): void {
    let offset = 0;
    while (offset < tokens.length) {
      if (this.fd < 0 || this.inShard === this.shardTokens) this.open();
      const n = Math.min(tokens.length - offset, this.shardTokens - this.inShard);
      const part = tokens.subarray(offset, offset + n);
      const bytes = new Uint8Array(part.buffer, part.byteOffset, n * BYTES_PER_TOKEN[this.dtype]);
      for (let written = 0; written < bytes.length;) written += writeSync(this.fd, bytes, written);
      this.inShard += n;
      this.shards[this.shards.length - 1].tokens += n;
      offset += n;
    }
  }

  finish(): ShardFile[] {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    return this.shards;
  }

  private open(): void {
    if (this.fd >= 0) closeSync(this.fd);
    const file = `${this.split}-${String(this.shards.length).padStart(5, '0')}.bin`;
    this.fd = openSync(join(this.dir, file), 'w');
    this.shards.push({ file, tokens: 0 });
    this.inShard = 0;
  }
}
