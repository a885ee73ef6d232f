import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveCorpusConfig } from './config.ts';
import {
  DocumentProcessor,
  type DocumentBatch,
  type ProcessedBatch,
  type ProcessorConfig,
} from './process-document.ts';
import { WorkerPool } from './worker-pool.ts';

const config = resolveCorpusConfig({ filters: { minWords: 5 } });
const processorConfig: ProcessorConfig = {
  filters: config.filters,
  minhash: { permutations: 64, shingleSize: 3, seed: 9 },
  signatures: true,
  scrubPii: true,
};
const documentWorker = new URL('./document-worker.ts', import.meta.url);

function batch(n: number): DocumentBatch {
  const texts = Array.from(
    { length: 40 },
    (_, i) =>
      `Document ${n}.${i} talks about  the weather,\r\nthe sea and mail to a${i}@example.com today. ${'word '.repeat(i % 7)}`,
  );
  return { texts, kinds: texts.map(() => 'text'), sources: texts.map((_, i) => `batch${n}#${i}`) };
}

describe('WorkerPool', () => {
  it('processes batches in worker threads exactly as on the calling thread', async () => {
    const pool = new WorkerPool(documentWorker, processorConfig, 2);
    try {
      await pool.ready;
      const batches = Array.from({ length: 6 }, (_, n) => batch(n));
      const threaded = await Promise.all(batches.map((b) => pool.run<ProcessedBatch>(b)));
      const inline = new DocumentProcessor(processorConfig);
      for (let n = 0; n < batches.length; n++) assert.deepEqual(threaded[n], inline.processBatch(batches[n]));
      assert.ok(threaded[0].documents.some((d) => d.record.includes('<EMAIL>')));
    } finally {
      await pool.close();
    }
  });

  it('handles requests inline until a worker is up, and all of them without workers', async () => {
    const inline = new DocumentProcessor(processorConfig);
    const handled: number[] = [];
    const handle = (message: unknown) => {
      handled.push(1);
      return inline.processBatch(message as DocumentBatch);
    };
    const starting = new WorkerPool(documentWorker, processorConfig, 1, { inline: handle });
    try {
      const early = await starting.run<ProcessedBatch>(batch(0));
      assert.deepEqual(handled, [1], 'the first request did not wait for the worker');
      await starting.ready;
      assert.deepEqual(await starting.run<ProcessedBatch>(batch(0)), early);
      assert.deepEqual(handled, [1], 'a started worker takes the requests');
    } finally {
      await starting.close();
    }
    const none = new WorkerPool(documentWorker, processorConfig, 0, { inline: handle });
    await none.run(batch(1));
    assert.deepEqual(handled, [1, 1]);
    await none.close();
  });

  it('rejects requests once closed', async () => {
    const pool = new WorkerPool(documentWorker, processorConfig, 1);
    await pool.ready;
    await pool.close();
    await assert.rejects(pool.run(batch(0)), /worker pool closed/);
  });
});
