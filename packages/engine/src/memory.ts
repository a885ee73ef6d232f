// A pool of Float32Array buffers keyed by length. Training steps allocate the same sizes every step, so after
// the first step activations and gradients come from the pool instead of the garbage collector, and the
// pool's high-water mark is the step's peak tensor memory.

export interface MemoryStats {
  /** Bytes in buffers currently handed out. */
  liveBytes: number;
  /** Bytes in buffers waiting in the pool. */
  pooledBytes: number;
  /** Highest liveBytes since the last resetPeak(). */
  peakLiveBytes: number;
}

const free = new Map<number, Float32Array[]>();
let liveBytes = 0;
let pooledBytes = 0;
let peakLiveBytes = 0;

/** A buffer of n floats with unspecified contents. */
export function allocate(n: number): Float32Array {
  const list = free.get(n);
  const buffer = list?.pop();
  liveBytes += n * 4;
  if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
  if (buffer) {
    pooledBytes -= n * 4;
    return buffer;
  }
  return new Float32Array(n);
}

/** A zero-filled buffer of n floats. */
export function allocateZeros(n: number): Float32Array {
  return allocate(n).fill(0);
}

/** Returns a buffer from allocate() to the pool. The caller must not use it afterwards. */
export function release(buffer: Float32Array): void {
  const n = buffer.length;
  if (n === 0) return;
  liveBytes -= n * 4;
  pooledBytes += n * 4;
  let list = free.get(n);
  if (!list) free.set(n, (list = []));
  list.push(buffer);
}

export function memoryStats(): MemoryStats {
  return { liveBytes, pooledBytes, peakLiveBytes };
}

export function resetPeakMemory(): void {
  peakLiveBytes = liveBytes;
}

/** Drops every pooled buffer (for the garbage collector), e.g. after changing model size. */
export function trimPool(): void {
  free.clear();
  pooledBytes = 0;
}
