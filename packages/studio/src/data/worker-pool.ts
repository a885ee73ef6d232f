// A fixed pool of document workers. `run` resolves with the processed batch; callers that await results in
// submission order get deterministic output no matter which worker finished first.
import { Worker } from 'node:worker_threads';
import {
  DocumentProcessor,
  type DocumentBatch,
  type ProcessedBatch,
  type ProcessorConfig,
} from './process-document.ts';

interface Pending {
  batch: DocumentBatch;
  resolve(result: ProcessedBatch): void;
  reject(error: Error): void;
}

export interface DocumentRunner {
  run(batch: DocumentBatch): Promise<ProcessedBatch>;
  close(): Promise<void>;
}

/** Processes batches on the calling thread (workers: 0): no parallelism, same results. */
export function inlineRunner(config: ProcessorConfig): DocumentRunner {
  const processor = new DocumentProcessor(config);
  return { run: async (batch) => processor.processBatch(batch), close: async () => {} };
}

/**
 * Worker threads; until the first of them has started (~0.6 s: each loads the TypeScript loader), batches are
 * processed on the calling thread instead of waiting, so small corpora do not pay for the start-up.
 */
export class WorkerPool implements DocumentRunner {
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<Worker, Pending>();
  private failure: Error | null = null;
  private readonly workers: Worker[];
  private inline: DocumentProcessor | null;
  private started!: () => void;
  /** Resolves once a worker has started; from then on batches go to workers only. */
  readonly ready = new Promise<void>((resolve) => (this.started = resolve));

  constructor(config: ProcessorConfig, size: number) {
    this.inline = new DocumentProcessor(config);
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(new URL('./document-worker.mjs', import.meta.url), {
        workerData: config,
        execArgv: [],
      });
      worker.on('message', (message: ProcessedBatch | 'ready') => {
        if (message === 'ready') {
          this.inline = null;
          this.started();
        } else {
          const pending = this.running.get(worker);
          this.running.delete(worker);
          pending?.resolve(message);
        }
        this.idle.push(worker);
        this.dispatch();
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`document worker exited with code ${code}`));
      });
      return worker;
    });
  }

  run(batch: DocumentBatch): Promise<ProcessedBatch> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.inline) return Promise.resolve(this.inline.processBatch(batch));
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('worker pool closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const pending = this.queue.shift() as Pending;
      this.running.set(worker, pending);
      worker.postMessage(pending.batch);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const pending of [...this.running.values(), ...this.queue]) pending.reject(error);
    this.running.clear();
    this.queue.length = 0;
  }
}
