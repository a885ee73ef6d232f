// Keys and values of past positions for one sequence, so generation computes each new token in O(context)
// instead of re-running the whole prefix.
import { Tensor } from '../tensor.ts';

export class KVCache {
  /** Positions stored so far. */
  length = 0;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];

  constructor(
    layers: number,
    readonly capacity: number,
    /** Floats per position: key/value heads × head_dim. */
    private readonly width: number,
  ) {
    this.keys = Array.from({ length: layers }, () => new Float32Array(capacity * width));
    this.values = Array.from({ length: layers }, () => new Float32Array(capacity * width));
  }

  /** Stores this call's keys/values after the cached ones; returns all of them (views, no copy). */
  append(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const seq = k.size / this.width;
    const end = this.length + seq;
    if (end > this.capacity) throw new Error(`KV cache full: ${end} positions, capacity ${this.capacity}`);
    this.keys[layer].set(k.data, this.length * this.width);
    this.values[layer].set(v.data, this.length * this.width);
    const shape = [end, this.width];
    return [
      new Tensor(this.keys[layer].subarray(0, end * this.width), shape),
      new Tensor(this.values[layer].subarray(0, end * this.width), shape),
    ];
  }

  /** Marks seq more positions as stored (after every layer appended them). */
  advance(seq: number): void {
    this.length += seq;
  }

  /** Forgets positions from `length` on, e.g. to reuse a shared prompt prefix. */
  truncate(length: number): void {
    if (length < 0 || length > this.length)
      throw new Error(`KV cache: cannot truncate ${this.length} positions to ${length}`);
    this.length = length;
  }
}
