// Token shards as `ownlm data pack` writes them, and the loader training reads them with.
//
// A shard folder holds `<split>-00000.bin`, `<split>-00001.bin`, … (raw little-endian uint16 token ids, or
// uint32 when the vocabulary has more than 65,536 ids; each document's tokens followed by the end-of-text
// token) and `index.json` (ShardIndex).
//
// Batches are random contiguous windows, a pure function of (seed, step): the generator is the engine's
// xoshiro128** (Random) with the state words s0 = f(seed), s1 = f(lo ^ s0), s2 = f(hi ^ s1 ^ 0x9e3779b9),
// s3 = f(s2 ^ 0x7f4a7c15), where lo and hi are the low and high 32 bits of step and f is MurmurHash3's fmix32
// finalizer. f is a bijection, so distinct (seed, step) pairs start distinct streams, and every word, the
// first output's included, depends on both. Each row draws a 53-bit uniform u from two outputs (21 high bits,
// then 32 low) and takes window floor(u · W) of the W windows of seqLen + 1 tokens that lie inside one shard,
// counting shards in index order. A run resumed at step s sees exactly the batches it would have seen.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '@ownlm/engine';
import { DataError } from './errors.ts';

export type TokenDtype = 'uint16' | 'uint32';

export interface ShardFile {
  file: string;
  tokens: number;
}

export interface SplitIndex {
  documents: number;
  tokens: number;
  shards: ShardFile[];
}

export interface ShardIndex {
  format: 'ownlm-token-shards';
  version: 1;
  tokenizer: {
    /** sha256 of the tokenizer.json the shards were encoded with. */
    sha256: string;
    vocabSize: number;
    /** End-of-text token appended to every document. */
    eotId: number;
  };
  dtype: TokenDtype;
  splits: Record<string, SplitIndex>;
}

export const BYTES_PER_TOKEN: Record<TokenDtype, number> = { uint16: 2, uint32: 4 };

/** Reads and checks index.json and that every shard file has the size its token count implies. */
export function readShardIndex(dir: string): ShardIndex {
  const path = join(dir, 'index.json');
  if (!existsSync(path))
    throw new DataError('input-not-found', `${path}: missing; pack a corpus with \`ownlm data pack\``);
  const bad = (field: string, problem: string) =>
    new DataError('input-invalid', `${path}: ${field} ${problem}`);
  let index: ShardIndex;
  try {
    index = JSON.parse(readFileSync(path, 'utf8')) as ShardIndex;
  } catch (error) {
    throw new DataError('input-invalid', `${path}: not valid JSON (${(error as Error).message})`);
  }
  if (index?.format !== 'ownlm-token-shards' || index.version !== 1)
    throw bad('format/version', 'must be "ownlm-token-shards" version 1');
  if (index.dtype !== 'uint16' && index.dtype !== 'uint32')
    throw bad('dtype', 'must be "uint16" or "uint32"');
  if (typeof index.tokenizer?.sha256 !== 'string' || !Number.isInteger(index.tokenizer.vocabSize)) {
    throw bad('tokenizer', 'must hold sha256 and vocabSize');
  }
  if (index.splits === null || typeof index.splits !== 'object') throw bad('splits', 'must be an object');
  for (const [split, entry] of Object.entries(index.splits)) {
    if (!Array.isArray(entry?.shards)) throw bad(`splits.${split}.shards`, 'must be an array');
    entry.shards.forEach((shard, i) => {
      const field = `splits.${split}.shards[${i}]`;
      if (
        typeof shard?.file !== 'string' ||
        shard.file.includes('/') ||
        !Number.isSafeInteger(shard.tokens) ||
        shard.tokens < 0
      ) {
        throw bad(field, 'must be { file: a name in the folder, tokens: a count }');
      }
      const file = join(dir, shard.file);
      const expected = shard.tokens * BYTES_PER_TOKEN[index.dtype];
      if (!existsSync(file) || statSync(file).size !== expected) {
        throw new DataError(
          'input-invalid',
          `${file}: expected ${expected} bytes (${field}.tokens = ${shard.tokens}); re-run \`ownlm data pack\``,
        );
      }
    });
  }
  return index;
}

export interface BatchOptions {
  seed: number;
  step: number;
  batchSize: number;
  /** Tokens per row; each window reads seqLen + 1 tokens. */
  seqLen: number;
}

export interface Batch {
  /** [batchSize, seqLen] token ids, row-major. */
  inputs: Int32Array;
  /** inputs shifted left by one: the next token at every position. */
  targets: Int32Array;
}

/** Random-window batches over one split of a shard folder; reads windows from disk, so memory stays small. */
export class TokenShardLoader {
  readonly index: ShardIndex;
  /** Tokens in the split. */
  readonly tokens: number;
  private readonly shards: ShardFile[];
  private readonly fds: number[];
  private readonly bytesPerToken: number;

  /** Opens `split` of the shards in `dir`; with `tokenizerHash`, refuses shards encoded with another tokenizer. */
  constructor(
    private readonly dir: string,
    readonly split = 'train',
    options: { tokenizerHash?: string } = {},
  ) {
    this.index = readShardIndex(dir);
    const entry = this.index.splits[split];
    if (!entry) {
      throw new DataError(
        'input-not-found',
        `${join(dir, 'index.json')}: no split "${split}" (has ${Object.keys(this.index.splits).join(', ')})`,
      );
    }
    if (options.tokenizerHash !== undefined && options.tokenizerHash !== this.index.tokenizer.sha256) {
      throw new DataError(
        'input-invalid',
        `${dir}: shards were encoded with another tokenizer (sha256 ${this.index.tokenizer.sha256}); re-pack them`,
      );
    }
    this.shards = entry.shards;
    this.tokens = entry.tokens;
    this.bytesPerToken = BYTES_PER_TOKEN[this.index.dtype];
    this.fds = this.shards.map((shard) => openSync(join(dir, shard.file), 'r'));
  }

  /** The batch for `step`: batchSize windows drawn as the module comment describes. */
  batch({ seed, step, batchSize, seqLen }: BatchOptions): Batch {
    if (
      ![seed, step, batchSize, seqLen].every(Number.isSafeInteger) ||
      seed < 0 ||
      seed >= 2 ** 32 ||
      step < 0 ||
      batchSize < 1 ||
      seqLen < 1
    ) {
      throw new DataError(
        'options-invalid',
        'seed must be a 32-bit unsigned integer, step a non-negative integer, batchSize and seqLen positive',
      );
    }
    const windows = this.shards.map((shard) => Math.max(0, shard.tokens - seqLen));
    const total = windows.reduce((a, b) => a + b, 0);
    if (total === 0) {
      throw new DataError(
        'options-invalid',
        `${this.dir}: split "${this.split}" has no shard with more than seqLen = ${seqLen} tokens`,
      );
    }
    const s0 = fmix32(seed);
    const s1 = fmix32((step % 2 ** 32) ^ s0);
    const s2 = fmix32(Math.floor(step / 2 ** 32) ^ s1 ^ 0x9e3779b9);
    const random = new Random(0);
    random.setState([s0, s1, s2, fmix32(s2 ^ 0x7f4a7c15)]);
    const inputs = new Int32Array(batchSize * seqLen);
    const targets = new Int32Array(batchSize * seqLen);
    const buffer = Buffer.alloc((seqLen + 1) * this.bytesPerToken);
    const window =
      this.bytesPerToken === 2
        ? new Uint16Array(buffer.buffer, buffer.byteOffset, seqLen + 1)
        : new Uint32Array(buffer.buffer, buffer.byteOffset, seqLen + 1);
    for (let row = 0; row < batchSize; row++) {
      const u = ((random.nextUint32() >>> 11) * 2 ** 32 + random.nextUint32()) / 2 ** 53;
      let start = Math.floor(u * total);
      let shard = 0;
      while (start >= windows[shard]) start -= windows[shard++];
      const bytes = readSync(this.fds[shard], buffer, 0, buffer.length, start * this.bytesPerToken);
      if (bytes !== buffer.length)
        throw new DataError(
          'input-invalid',
          `${join(this.dir, this.shards[shard].file)}: shorter than index.json says`,
        );
      inputs.set(window.subarray(0, seqLen), row * seqLen);
      targets.set(window.subarray(1), row * seqLen);
    }
    return { inputs, targets };
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

/** MurmurHash3's 32-bit finalizer: a bijection that spreads every input bit over the output. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
