// Stage 4: near-duplicate detection. MinHash signatures are banded (LSH); documents sharing a band bucket are
// candidates, a candidate whose signatures agree on at least `threshold` of their positions is a duplicate,
// and duplicates are clustered with union-find so each cluster keeps exactly one document.
//
// Memory: signatures live in a temporary file (4·permutations bytes per document, read back only to verify a
// candidate); RAM holds the bucket table (12 bytes per slot, between a quarter and half of the slots used:
// 24–48 bytes per band and document) plus 8 bytes per document (parent and length). At the defaults (128
// permutations, 14 bands) that is 0.35–0.7 KB per document that reaches near dedup: a million documents take
// ~0.5 GB, ten million ~5 GB. Beyond that, lower `permutations` or raise `threshold` (fewer bands).
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { U64Map } from './hash-table.ts';
import { bandHash, estimateJaccard, lshParameters, type LshParameters } from './minhash.ts';

/** Append-only file of fixed-size signatures with a write buffer; random reads by index. */
export class SignatureStore {
  private readonly fd: number;
  private readonly buffer: Uint32Array;
  private buffered = 0;
  private flushed = 0;

  constructor(
    path: string,
    private readonly permutations: number,
    bufferSignatures = 4096,
  ) {
    this.fd = openSync(path, 'w+');
    this.buffer = new Uint32Array(bufferSignatures * permutations);
  }

  /** Appends the signature at `source[offset…]` and returns its index. */
  append(source: Uint32Array, offset: number): number {
    if ((this.buffered + 1) * this.permutations > this.buffer.length) this.flush();
    this.buffer.set(source.subarray(offset, offset + this.permutations), this.buffered * this.permutations);
    this.buffered += 1;
    return this.flushed + this.buffered - 1;
  }

  /** Copies signature `index` into `out[0…permutations)`. */
  read(index: number, out: Uint32Array): void {
    if (index >= this.flushed) {
      const start = (index - this.flushed) * this.permutations;
      out.set(this.buffer.subarray(start, start + this.permutations));
      return;
    }
    const bytes = this.permutations * 4;
    readSync(this.fd, new Uint8Array(out.buffer, out.byteOffset, bytes), 0, bytes, index * bytes);
  }

  close(): void {
    closeSync(this.fd);
  }

  private flush(): void {
    const bytes = this.buffered * this.permutations * 4;
    writeSync(
      this.fd,
      new Uint8Array(this.buffer.buffer, 0, bytes),
      0,
      bytes,
      this.flushed * this.permutations * 4,
    );
    this.flushed += this.buffered;
    this.buffered = 0;
  }
}

export interface NearDedupIndexOptions {
  threshold: number;
  permutations: number;
  /** Which document a cluster keeps: the first seen, or the longest (ties: the first). */
  keep: 'first' | 'longest';
}

/** Cluster assignment after all documents were added. */
export interface NearDedupResult {
  /** Root (smallest index) of each document's cluster. */
  root: Int32Array;
  /** Cluster size, indexed by root (0 elsewhere). */
  size: Int32Array;
  /** The document each cluster keeps, indexed by root. */
  keeper: Int32Array;
  /** Pairs that shared a bucket and passed verification. */
  verifiedPairs: number;
  /** Pairs that shared a bucket but were below the threshold. */
  rejectedPairs: number;
}

export class NearDuplicateIndex {
  readonly lsh: LshParameters;
  private buckets: U64Map | null = new U64Map(1 << 16);
  private parent = new Int32Array(1024);
  private lengths = new Uint32Array(1024);
  private count = 0;
  private verifiedPairs = 0;
  private rejectedPairs = 0;
  private readonly candidate: Uint32Array;

  constructor(
    private readonly store: SignatureStore,
    private readonly options: NearDedupIndexOptions,
  ) {
    this.lsh = lshParameters(options.threshold, options.permutations);
    this.candidate = new Uint32Array(options.permutations);
  }

  /** Adds a document (its signature at `signatures[offset…]`, its length in characters); returns its index. */
  add(signatures: Uint32Array, offset: number, length: number): number {
    const buckets = this.buckets;
    if (!buckets) throw new Error('NearDuplicateIndex.add after finish');
    const index = this.store.append(signatures, offset);
    if (index === this.parent.length) this.grow();
    this.parent[index] = index;
    this.lengths[index] = length;
    this.count = index + 1;
    const { bands, rows } = this.lsh;
    let rejected = -1;
    for (let band = 0; band < bands; band++) {
      const other = buckets.setIfAbsent(band, bandHash(signatures, offset, band, rows), index);
      if (other < 0 || other === rejected || this.find(other) === this.find(index)) continue;
      this.store.read(other, this.candidate);
      if (
        estimateJaccard(signatures, offset, this.candidate, 0, this.options.permutations) >=
        this.options.threshold
      ) {
        this.union(other, index);
        this.verifiedPairs += 1;
      } else {
        rejected = other;
        this.rejectedPairs += 1;
      }
    }
    return index;
  }

  /** Similarity estimate of two added documents. */
  similarity(a: number, b: number): number {
    const sa = new Uint32Array(this.options.permutations);
    this.store.read(a, sa);
    this.store.read(b, this.candidate);
    return estimateJaccard(sa, 0, this.candidate, 0, this.options.permutations);
  }

  /** Ends adding, frees the bucket table and returns the clusters. */
  finish(): NearDedupResult {
    this.buckets = null;
    const n = this.count;
    const root = this.parent.subarray(0, n);
    for (let i = 0; i < n; i++) root[i] = this.find(i);
    const size = new Int32Array(n);
    for (let i = 0; i < n; i++) size[root[i]] += 1;
    const keeper = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const r = root[i];
      if (keeper[r] < 0 || (this.options.keep === 'longest' && this.lengths[i] > this.lengths[keeper[r]]))
        keeper[r] = i;
    }
    return { root, size, keeper, verifiedPairs: this.verifiedPairs, rejectedPairs: this.rejectedPairs };
  }

  private find(x: number): number {
    const parent = this.parent;
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }

  /** Joins two clusters under the smaller root, so a root is always its cluster's first document. */
  private union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra < rb) this.parent[rb] = ra;
    else if (rb < ra) this.parent[ra] = rb;
  }

  private grow(): void {
    const parent = new Int32Array(this.parent.length * 2);
    parent.set(this.parent);
    this.parent = parent;
    const lengths = new Uint32Array(this.lengths.length * 2);
    lengths.set(this.lengths);
    this.lengths = lengths;
  }
}
