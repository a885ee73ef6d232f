// A small request/reply pool of worker threads for CPU-bound batch work (counting words, encoding corpora).
// ownlm runs its TypeScript sources through tsx, whose loader hooks do not reach worker threads by
// themselves, so a worker started from a .ts module registers tsx before importing it.
import { parentPort, Worker } from 'node:worker_threads';
import { DataError, type DataErrorCode } from '../data/errors.ts';

interface Request {
  id: number;
  message: unknown;
}

interface Reply {
  id: number;
  value?: unknown;
  error?: { message: string; code?: DataErrorCode };
}

function startWorker(module: URL, workerData: unknown): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { worker: number; resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private readonly load: number[];
  private nextId = 0;
  private failure: Error | null = null;

  /** Starts `size` workers running `module`, which must call `serveRequests`; call `close` when done. */
  constructor(module: URL, workerData: unknown, size: number) {
    this.workers = Array.from({ length: size }, () => startWorker(module, workerData));
    this.load = this.workers.map(() => 0);
    for (const worker of this.workers) {
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`worker thread exited with code ${code}`));
      });
    }
  }

  /** Requests waiting for a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends a request to the least busy worker. */
  run<T>(message: unknown): Promise<T> {
    const worker = this.load.indexOf(Math.min(...this.load));
    return this.send<T>(worker, message);
  }

  /** Sends the same request to every worker and collects their replies. */
  broadcast<T>(message: unknown): Promise<T[]> {
    return Promise.all(this.workers.map((_, worker) => this.send<T>(worker, message)));
  }

  async close(): Promise<void> {
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

  private settle(reply: Reply): void {
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

  private fail(error: Error): void {
    this.failure ??= error;
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}

/** Worker side: answers each request with `handle`'s value, or with its error (DataError codes kept). */
export function serveRequests(handle: (message: unknown) => unknown): void {
  const port = parentPort!;
  port.on('message', (request: Request) => {
    try {
      port.postMessage({ id: request.id, value: handle(request.message) } satisfies Reply);
    } catch (error) {
      const code = error instanceof DataError ? error.code : undefined;
      port.postMessage({
        id: request.id,
        error: { message: (error as Error).message, code },
      } satisfies Reply);
    }
  });
}
