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
const fixtureWorker = new URL('./worker-pool-fixture.ts', import.meta.url);

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

  it('replaces a worker that dies, failing only the requests it held', async () => {
    const pool = new WorkerPool(fixtureWorker, null, 2);
    const threads = () => Promise.all([pool.run<number>('thread'), pool.run<number>('thread')]);
    try {
      await pool.ready;
      const before = await threads();
      const [exited, other] = await Promise.allSettled([pool.run('exit'), pool.run<number>('thread')]);
      assert.equal(exited.status, 'rejected');
      assert.match(String(exited.reason), /the worker thread running this request crashed \(exit code 3\)/);
      assert.equal(other.status, 'fulfilled', 'the other worker answers');
      const after = await threads();
      assert.ok(after.includes(other.value), 'the other worker still serves');
      assert.ok(
        !after.every((thread) => before.includes(thread)),
        'a new thread took the place of the dead one',
      );
      assert.equal(pool.inFlight, 0);
    } finally {
      await pool.close();
    }
  });

  it('fails when its module cannot start, instead of starting it again and again', async () => {
    const pool = new WorkerPool(fixtureWorker, 'fail-start', 1);
    try {
      await assert.rejects(pool.run('thread'), /worker thread failed to start: this module cannot start/);
      await assert.rejects(pool.run('thread'), /failed to start/);
    } finally {
      await pool.close();
    }
  });

  it('rejects requests once closed', async () => {
    const pool = new WorkerPool(documentWorker, processorConfig, 1);
    await pool.ready;
    await pool.close();
    await assert.rejects(pool.run(batch(0)), /worker pool closed/);
  });
});
