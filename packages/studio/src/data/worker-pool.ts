// The one pool of worker threads for CPU-bound batch work: processing documents, counting words, encoding
// corpora. A request goes to the least busy worker and its promise settles with that worker's reply, so callers
// that await replies in request order get output that does not depend on which thread finished first.
// ownlm runs its TypeScript sources through tsx, whose loader hooks do not reach worker threads by themselves,
// so a worker started from a .ts module registers tsx (resolved from this file) before importing it.
import { parentPort, Worker, type TransferListItem } from 'node:worker_threads';
import { DataError, type DataErrorCode } from './errors.ts';

interface Request {
  id: number;
  message: unknown;
}

/** A worker's answer to a request, or 'ready' once it serves requests. */
type Reply = { id: number; value?: unknown; error?: { message: string; code?: DataErrorCode } } | 'ready';

export interface WorkerPoolOptions {
  /**
   * Handles requests on the calling thread until the first worker is up (a worker takes ~0.5 s to start: it
   * loads the TypeScript loader), so small inputs do not wait for start-up; with no workers, handles them all.
   * It must answer as a worker would.
   */
  inline?: (message: unknown) => unknown;
}

function startWorker(module: URL, workerData: unknown): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`;
  // The worker registers tsx itself; the parent's flags (`--import tsx` under the test runner) would load it twice.
  return new Worker(code, { eval: true, workerData, execArgv: [] });
}

/**
 * Workers answering requests. A worker that dies (an uncaught error, running out of memory, `process.exit`) fails
 * the requests it held and is replaced, losing whatever state it kept; one that dies before it serves requests
 * fails the pool, since its module cannot start.
 */
export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { worker: number; resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private readonly load: number[];
  private nextId = 0;
  private failure: Error | null = null;
  private inline: ((message: unknown) => unknown) | null;
  private started!: () => void;
  /** Resolves once a worker serves requests; from then on requests go to workers only. */
  readonly ready = new Promise<void>((resolve) => (this.started = resolve));

  /** Starts `size` workers running `module`, which must call `serveRequests`; call `close` when done. */
  constructor(
    private readonly module: URL,
    private readonly workerData: unknown,
    size: number,
    options: WorkerPoolOptions = {},
  ) {
    this.inline = options.inline ?? null;
    this.load = Array.from({ length: size }, () => 0);
    this.workers = this.load.map((_, slot) => this.start(slot));
  }

  /** Requests waiting for a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends a request to the least busy worker (or handles it inline until one is up). */
  run<T>(message: unknown): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const inline = this.inline;
    if (inline) return new Promise<T>((resolve) => resolve(inline(message) as T));
    const worker = this.load.indexOf(Math.min(...this.load));
    return this.send<T>(worker, message);
  }

  /** Sends the same request to every worker and collects their replies. */
  broadcast<T>(message: unknown): Promise<T[]> {
    return Promise.all(this.workers.map((_, worker) => this.send<T>(worker, message)));
  }

  /** Stops the workers; requests made afterwards are rejected. */
  async close(): Promise<void> {
    this.failure ??= new Error('worker pool closed');
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private send<T>(worker: number, message: unknown): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    this.load[worker]++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { worker, resolve: resolve as (value: unknown) => void, reject });
      this.workers[worker].postMessage({ id, message } satisfies Request);
    });
  }

  private settle(reply: Exclude<Reply, 'ready'>): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    this.load[entry.worker]--;
    if (!reply.error) entry.resolve(reply.value);
    else
      entry.reject(
        reply.error.code
          ? new DataError(reply.error.code, reply.error.message)
          : new Error(reply.error.message),
      );
  }

  private start(slot: number): Worker {
    const worker = startWorker(this.module, this.workerData);
    let serving = false;
    let crash: Error | undefined;
    worker.on('message', (reply: Reply) => {
      if (reply !== 'ready') this.settle(reply);
      else {
        serving = true;
        this.inline = null;
        this.started();
      }
    });
    // 'exit' always follows 'error'.
    worker.on('error', (error) => (crash ??= error));
    worker.on('exit', (code) => {
      const cause = crash?.message ?? `exit code ${code}`;
      if (this.failure) this.rejectRequests(slot, this.failure);
      else if (!serving) this.fail(new Error(`worker thread failed to start: ${cause}`, { cause: crash }));
      else {
        this.rejectRequests(
          slot,
          new Error(`the worker thread running this request crashed (${cause})`, {
            cause: crash,
          }),
        );
        this.workers[slot] = this.start(slot);
      }
    });
    return worker;
  }

  /** Rejects the requests sent to the worker in `slot`. */
  private rejectRequests(slot: number, error: Error): void {
    for (const [id, entry] of this.pending)
      if (entry.worker === slot) {
        this.pending.delete(id);
        entry.reject(error);
      }
    this.load[slot] = 0;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}

/**
 * Worker side: answers each request with `handle`'s value, or with its error (DataError codes kept). The
 * buffers `transfer` names are moved to the calling thread instead of copied.
 */
export function serveRequests<R>(
  handle: (message: unknown) => R,
  transfer: (value: R) => TransferListItem[] = () => [],
): void {
  const port = parentPort;
  if (!port) throw new Error('serveRequests must run in a worker thread');
  port.on('message', (request: Request) => {
    let reply: Exclude<Reply, 'ready'>;
    let transferList: TransferListItem[] = [];
    try {
      const value = handle(request.message);
      reply = { id: request.id, value };
      transferList = transfer(value);
    } catch (error) {
      const code = error instanceof DataError ? error.code : undefined;
      reply = { id: request.id, error: { message: (error as Error).message, code } };
    }
    port.postMessage(reply, transferList);
  });
  port.postMessage('ready' satisfies Reply);
}
