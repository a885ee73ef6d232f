import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveCorpusConfig } from './config.ts';
import type { DocumentBatch, ProcessorConfig } from './process-document.ts';
import { inlineRunner, WorkerPool } from './worker-pool.ts';

const config = resolveCorpusConfig({ filters: { minWords: 5 } });
const processorConfig: ProcessorConfig = {
  filters: config.filters,
  minhash: { permutations: 64, shingleSize: 3, seed: 9 },
  signatures: true,
  scrubPii: true,
};

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
    const pool = new WorkerPool(processorConfig, 2);
    try {
      await pool.ready;
      const batches = Array.from({ length: 6 }, (_, n) => batch(n));
      const threaded = await Promise.all(batches.map((b) => pool.run(b)));
      const inline = inlineRunner(processorConfig);
      for (let n = 0; n < batches.length; n++) assert.deepEqual(threaded[n], await inline.run(batches[n]));
      assert.ok(threaded[0].documents.some((d) => d.record.includes('<EMAIL>')));
    } finally {
      await pool.close();
    }
  });

  it('rejects pending work once closed', async () => {
    const pool = new WorkerPool(processorConfig, 1);
    await pool.ready;
    await pool.close();
    await assert.rejects(pool.run(batch(0)), /worker pool closed/);
  });
});
