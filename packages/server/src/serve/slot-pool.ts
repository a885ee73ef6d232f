// A fixed set of slots (a loaded model's context sequences) handed out one per generation, with a bounded
// first-come queue in front: a request that finds every slot busy and the queue full is refused at once
// (`overloaded`) instead of waiting without bound.
import { AppError } from '../errors.ts';

interface Waiter<T> {
  resolve(slot: T | null): void;
  reject(error: Error): void;
}

export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiters: Waiter<T>[] = [];

  constructor(
    slots: T[],
    private readonly maxQueue: number,
    /** Names the pool in the `overloaded` message ("model 'x'"). */
    private readonly label: string,
  ) {
    this.free = [...slots];
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * A free slot (the one `preference` scores highest), or the next one released. Resolves null when `signal`
   * aborts first, which also frees the place in the queue; throws `overloaded` when the queue is full.
   */
  acquire(signal: AbortSignal, preference?: (slot: T) => number): Promise<T | null> {
    if (signal.aborted) return Promise.resolve(null);
    if (this.free.length > 0) {
      let best = 0;
      if (preference) {
        const scores = this.free.map(preference);
        best = scores.indexOf(Math.max(...scores));
      }
      return Promise.resolve(this.free.splice(best, 1)[0]);
    }
    if (this.waiters.length >= this.maxQueue)
      return Promise.reject(
        new AppError(
          'overloaded',
          `${this.label} is busy: ${this.maxQueue} requests are already waiting; retry shortly`,
        ),
      );
    return new Promise<T | null>((resolve, reject) => {
      const onAbort = () => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(null);
      };
      const waiter: Waiter<T> = {
        resolve: (slot) => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Gives a slot back: to the longest-waiting request, or to the free set. */
  release(slot: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(slot);
    else this.free.push(slot);
  }

  /** Refuses every queued request with `error` (the model is being unloaded). */
  rejectQueued(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
