// Byte-level BPE training on counted pre-tokens (unique words with their frequencies).
//
// Every word is laid out once as a linked list of symbol slots. Each pair keeps its count and the list of
// slots where it was created; a max-heap with lazy invalidation picks the next merge. Applying a merge
// visits only the recorded slots (skipping those a later merge has changed) and adjusts the counts of the
// neighbouring pairs, so the work per merge is proportional to its occurrences, not to the corpus.
//
// Ties are broken as the Hugging Face trainer breaks them: highest count, then the lowest (left id,
// right id), where ids follow code point order for bytes (see BYTES_BY_CHAR) and creation order for merges.
// On the same words both trainers therefore pick the same merges in the same order.
import { BYTE_TO_CHAR, BYTES_BY_CHAR } from './byte-level.ts';

export interface BpeTrainOptions {
  /** Number of model tokens to reach: the 256 bytes plus the merges (special tokens are not counted here). */
  modelVocabSize: number;
  /** A pair is merged only if it occurs at least this many times; training stops at the first that does not. */
  minFrequency: number;
  /** Called every few hundred merges with the number done so far. */
  onProgress?: (merges: number) => void;
}

export interface TrainedBpe {
  /** Byte-level token strings; index = token id. Ids 0–255 are the bytes, then one token per new merge. */
  tokens: string[];
  /** Merges in rank order, as pairs of token ids. */
  merges: [number, number][];
}

const utf8 = new TextEncoder();

/** Learns merges from pre-token counts. Deterministic: the result depends only on the multiset of words. */
export function trainBpe(words: Map<string, number>, options: BpeTrainOptions): TrainedBpe {
  const byteToId = new Int32Array(256);
  BYTES_BY_CHAR.forEach((b, id) => (byteToId[b] = id));
  const tokens = BYTES_BY_CHAR.map((b) => BYTE_TO_CHAR[b]);
  const idOf = new Map<string, number>(tokens.map((t, id) => [t, id]));

  // Symbol slots of all words of two bytes or more, one after another; -1 links end a word.
  let totalBytes = 0;
  const encoded: Uint8Array[] = [];
  const counts: number[] = [];
  for (const [word, count] of words) {
    const bytes = utf8.encode(word);
    if (bytes.length < 2) continue;
    encoded.push(bytes);
    counts.push(count);
    totalBytes += bytes.length;
  }
  const sym = new Int32Array(totalBytes);
  const next = new Int32Array(totalBytes);
  const prev = new Int32Array(totalBytes);
  const weight = new Float64Array(totalBytes);
  const pairs = new PairTable(Math.max(1024, totalBytes >> 2));
  let slot = 0;
  for (let w = 0; w < encoded.length; w++) {
    const bytes = encoded[w];
    for (let i = 0; i < bytes.length; i++, slot++) {
      sym[slot] = byteToId[bytes[i]];
      prev[slot] = i === 0 ? -1 : slot - 1;
      next[slot] = i === bytes.length - 1 ? -1 : slot + 1;
      weight[slot] = counts[w];
      if (i > 0) pairs.add(sym[slot - 1], sym[slot], counts[w], slot - 1);
    }
  }

  const heap = new PairHeap(pairs);
  for (let p = 0; p < pairs.size; p++) heap.push(p, pairs.count[p]);

  const merges: [number, number][] = [];
  let positions = new Int32Array(1024);
  while (tokens.length < options.modelVocabSize && heap.size > 0) {
    const [p, queued] = heap.pop();
    const current = pairs.count[p];
    if (queued !== current) {
      if (current > 0) heap.push(p, current);
      continue;
    }
    if (current < Math.max(1, options.minFrequency)) break;

    const a = pairs.left[p];
    const b = pairs.right[p];
    const text = tokens[a] + tokens[b];
    let id = idOf.get(text);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(text);
      idOf.set(text, id);
    }
    merges.push([a, b]);

    // Take the recorded slots first: applying the merge appends to other pairs' lists.
    let n = 0;
    for (let o = pairs.head[p]; o >= 0; o = pairs.occurrenceNext[o]) {
      if (n === positions.length) positions = grow(positions, n * 2);
      positions[n++] = pairs.occurrenceSlot[o];
    }
    pairs.head[p] = pairs.tail[p] = -1;
    // Overlapping occurrences (a a a) must merge left to right, as the Hugging Face trainer does.
    if (a === b) positions.subarray(0, n).sort();

    for (let k = 0; k < n; k++) {
      const s = positions[k];
      if (sym[s] !== a) continue;
      const t = next[s];
      if (t < 0 || sym[t] !== b) continue;
      const w = weight[s];
      const l = prev[s];
      const r = next[t];
      if (l >= 0) {
        pairs.count[pairs.find(sym[l], a)] -= w;
        heap.markDirty(pairs.add(sym[l], id, w, l));
      }
      if (r >= 0) {
        pairs.count[pairs.find(b, sym[r])] -= w;
        heap.markDirty(pairs.add(id, sym[r], w, s));
        prev[r] = s;
      }
      pairs.count[p] -= w;
      sym[s] = id;
      next[s] = r;
      sym[t] = -1;
    }
    heap.pushDirty();
    if (merges.length % 256 === 0) options.onProgress?.(merges.length);
  }
  options.onProgress?.(merges.length);
  return { tokens, merges };
}

function grow<T extends Int32Array | Float64Array>(array: T, length: number): T {
  const out = new (array.constructor as new (n: number) => T)(length);
  out.set(array);
  return out;
}

/** Open-addressing hash table from (left, right) to a pair index, with per-pair counts and slot lists. */
class PairTable {
  size = 0;
  left = new Int32Array(1024);
  right = new Int32Array(1024);
  count = new Float64Array(1024);
  head = new Int32Array(1024);
  tail = new Int32Array(1024);
  occurrenceSlot: Int32Array;
  occurrenceNext: Int32Array;
  private occurrences = 0;
  private slots: Int32Array;
  private mask: number;

  constructor(expectedPairs: number) {
    const capacity = 1 << Math.ceil(Math.log2(expectedPairs * 2));
    this.slots = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
    this.occurrenceSlot = new Int32Array(expectedPairs * 4);
    this.occurrenceNext = new Int32Array(expectedPairs * 4);
  }

  private hash(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ b;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca77);
    return (h ^ (h >>> 13)) & this.mask;
  }

  /** Index of (a, b); the pair must exist. */
  find(a: number, b: number): number {
    for (let h = this.hash(a, b); ; h = (h + 1) & this.mask) {
      const p = this.slots[h];
      if (this.left[p] === a && this.right[p] === b) return p;
    }
  }

  /** Adds `count` to (a, b), creating it if needed, records `slot` as an occurrence, and returns its index. */
  add(a: number, b: number, count: number, slot: number): number {
    let h = this.hash(a, b);
    let p = this.slots[h];
    while (p >= 0 && !(this.left[p] === a && this.right[p] === b)) {
      h = (h + 1) & this.mask;
      p = this.slots[h];
    }
    if (p < 0) {
      p = this.create(a, b);
      this.slots[h] = p;
      if (this.size * 2 > this.mask) this.rehash();
    }
    this.count[p] += count;
    if (this.occurrences === this.occurrenceSlot.length) {
      this.occurrenceSlot = grow(this.occurrenceSlot, this.occurrences * 2);
      this.occurrenceNext = grow(this.occurrenceNext, this.occurrences * 2);
    }
    const o = this.occurrences++;
    this.occurrenceSlot[o] = slot;
    this.occurrenceNext[o] = -1;
    if (this.tail[p] >= 0) this.occurrenceNext[this.tail[p]] = o;
    else this.head[p] = o;
    this.tail[p] = o;
    return p;
  }

  private create(a: number, b: number): number {
    if (this.size === this.left.length) {
      const n = this.size * 2;
      this.left = grow(this.left, n);
      this.right = grow(this.right, n);
      this.count = grow(this.count, n);
      this.head = grow(this.head, n);
      this.tail = grow(this.tail, n);
    }
    const p = this.size++;
    this.left[p] = a;
    this.right[p] = b;
    this.count[p] = 0;
    this.head[p] = this.tail[p] = -1;
    return p;
  }

  private rehash(): void {
    const capacity = (this.mask + 1) * 2;
    this.slots = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
    for (let p = 0; p < this.size; p++) {
      let h = this.hash(this.left[p], this.right[p]);
      while (this.slots[h] >= 0) h = (h + 1) & this.mask;
      this.slots[h] = p;
    }
  }
}

/** Binary max-heap of (pair, count) entries ordered by count, then by lowest (left, right). */
class PairHeap {
  size = 0;
  private pair = new Int32Array(1024);
  private count = new Float64Array(1024);
  private dirty: number[] = [];
  private isDirty = new Uint8Array(1024);

  constructor(private readonly pairs: PairTable) {}

  /** True when entry i should pop before entry j. */
  private before(i: number, j: number): boolean {
    const ci = this.count[i];
    const cj = this.count[j];
    if (ci !== cj) return ci > cj;
    const { left, right } = this.pairs;
    const pi = this.pair[i];
    const pj = this.pair[j];
    return left[pi] !== left[pj] ? left[pi] < left[pj] : right[pi] < right[pj];
  }

  private swap(i: number, j: number): void {
    const p = this.pair[i];
    this.pair[i] = this.pair[j];
    this.pair[j] = p;
    const c = this.count[i];
    this.count[i] = this.count[j];
    this.count[j] = c;
  }

  push(pair: number, count: number): void {
    if (this.size === this.pair.length) {
      this.pair = grow(this.pair, this.size * 2);
      this.count = grow(this.count, this.size * 2);
    }
    let i = this.size++;
    this.pair[i] = pair;
    this.count[i] = count;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.pair[0], this.count[0]];
    this.size--;
    this.pair[0] = this.pair[this.size];
    this.count[0] = this.count[this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const child = l + 1 < this.size && this.before(l + 1, l) ? l + 1 : l;
      if (!this.before(child, i)) break;
      this.swap(i, child);
      i = child;
    }
    return top;
  }

  /** Notes a pair whose count grew during the current merge; it is pushed once, by pushDirty. */
  markDirty(pair: number): void {
    if (pair >= this.isDirty.length) {
      const bigger = new Uint8Array(Math.max(pair + 1, this.isDirty.length * 2));
      bigger.set(this.isDirty);
      this.isDirty = bigger;
    }
    if (this.isDirty[pair]) return;
    this.isDirty[pair] = 1;
    this.dirty.push(pair);
  }

  pushDirty(): void {
    for (const p of this.dirty) {
      this.isDirty[p] = 0;
      if (this.pairs.count[p] > 0) this.push(p, this.pairs.count[p]);
    }
    this.dirty.length = 0;
  }
}
