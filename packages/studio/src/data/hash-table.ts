// Open-addressing hash tables on typed arrays. The dedup indexes hold one entry per document for the whole
// run, so they must cost bytes per entry, not the ~80 bytes of a JavaScript Map entry.

/** Finalizer of MurmurHash3: spreads the bits of a 32-bit value over all 32. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * Map from 64-bit keys (two 32-bit halves) to non-negative int32 values; 12 bytes per slot, at most half the
 * slots used, so 24–48 bytes per entry. Keys are kept as signed int32 so the hot loop never leaves integer
 * arithmetic.
 */
export class U64Map {
  private high: Int32Array;
  private low: Int32Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let capacity = 16;
    while (capacity < initialCapacity * 2) capacity *= 2;
    this.high = new Int32Array(capacity);
    this.low = new Int32Array(capacity);
    this.values = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
  }

  /** Stores `value` when the key is absent and returns -1; otherwise returns the value already stored. */
  setIfAbsent(high: number, low: number, value: number): number {
    const h = high | 0;
    const l = low | 0;
    const slot = this.find(h, l);
    const existing = this.values[slot];
    if (existing >= 0) return existing;
    this.high[slot] = h;
    this.low[slot] = l;
    this.values[slot] = value;
    this.count += 1;
    if (this.count * 2 > this.values.length) this.grow();
    return -1;
  }

  private find(high: number, low: number): number {
    const values = this.values;
    const highs = this.high;
    const lows = this.low;
    const mask = this.mask;
    let slot = mix32(low ^ Math.imul(high, 0x9e3779b1)) & mask;
    while (values[slot] >= 0 && (highs[slot] !== high || lows[slot] !== low)) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { high, low, values } = this;
    const capacity = values.length * 2;
    this.high = new Int32Array(capacity);
    this.low = new Int32Array(capacity);
    this.values = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
    for (let i = 0; i < values.length; i++) {
      if (values[i] < 0) continue;
      const slot = this.find(high[i], low[i]);
      this.high[slot] = high[i];
      this.low[slot] = low[i];
      this.values[slot] = values[i];
    }
  }
}

/**
 * Counts 32-bit keys within one document. `reset` is O(1) (a new stamp marks all slots stale), so one
 * instance serves a whole stream of documents without clearing or reallocating.
 */
export class StampedCounter {
  private keys = new Uint32Array(0);
  private counts = new Uint32Array(0);
  private stamps = new Uint32Array(0);
  private stamp = 0;
  private shift = 32;

  /** Starts a new document with room for `entries` distinct keys. */
  reset(entries: number): void {
    let capacity = 64;
    while (capacity < entries * 2) capacity *= 2;
    if (capacity > this.keys.length) {
      this.keys = new Uint32Array(capacity);
      this.counts = new Uint32Array(capacity);
      this.stamps = new Uint32Array(capacity);
      this.stamp = 0;
    }
    this.shift = 32 - Math.log2(this.keys.length);
    this.stamp += 1;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  /** Adds one occurrence of `key` and returns its count so far. */
  increment(key: number): number {
    // Fibonacci hashing (top bits of key·2³²/φ): one multiply, and the keys are already hashes.
    const mask = this.keys.length - 1;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (this.stamps[slot] === this.stamp) {
      if (this.keys[slot] === key) return ++this.counts[slot];
      slot = (slot + 1) & mask;
    }
    this.stamps[slot] = this.stamp;
    this.keys[slot] = key;
    this.counts[slot] = 1;
    return 1;
  }
}
