import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AppError } from '../errors.ts';
import { QuickstartJob, type QuickstartStatus } from './job.ts';

const home = mkdtempSync(join(tmpdir(), 'ownlm-quickstart-job-'));
after(() => rmSync(home, { recursive: true, force: true }));

/** Every status a job reports until its run ends. */
function record(job: QuickstartJob): Promise<QuickstartStatus[]> {
  const seen: QuickstartStatus[] = [job.status()];
  return new Promise((resolve) => {
    const unsubscribe = job.subscribe((status) => {
      seen.push(status);
      if (status.state !== 'running') {
        unsubscribe();
        resolve(seen);
      }
    });
  });
}

test('a real quickstart runs through the six stages, reports training and registers the model', async () => {
  const ready: string[] = [];
  const job = new QuickstartJob({
    home,
    steps: 4,
    extraArgs: ['--vocab-size', '512'],
    onModelReady: async (path) => {
      ready.push(path);
      return 'version-1';
    },
  });
  assert.deepEqual(job.status(), {
    state: 'idle',
    stage: null,
    step: null,
    steps: null,
    loss: null,
    etaSeconds: null,
    error: null,
    modelId: null,
  });
  const statuses = record(job);
  job.start();
  assert.equal(job.status().state, 'running');
  assert.throws(
    () => job.start(),
    (error: AppError) => error.code === 'conflict' && /already running/.test(error.message),
  );
  const seen = await statuses;
  const final = seen.at(-1)!;
  assert.equal(final.state, 'succeeded', final.error ?? '');
  assert.equal(final.modelId, 'version-1');
  assert.deepEqual(
    [...new Set(seen.map((s) => s.stage).filter((s) => s !== null))],
    [
      'prepare the demo corpus',
      'train a byte-level BPE tokenizer',
      'pack token shards',
      'train the tiny Llama preset',
      'evaluate on the validation split',
      'export a GGUF and verify it in llama.cpp',
    ],
  );
  const training = seen.find((s) => s.step !== null && s.step > 0 && s.loss !== null);
  assert.ok(training, 'a status with a train step');
  assert.equal(training.steps, 4);
  assert.ok(training.loss! > 0 && training.loss! < 10, `loss ${training.loss}`);
  assert.equal(final.step, 4);
  assert.deepEqual(ready, [join(home, 'models', 'quickstart-f16.gguf')]);
  assert.ok(existsSync(ready[0]));
  const lineage = JSON.parse(readFileSync(`${ready[0]}.lineage.json`, 'utf8'));
  assert.equal(lineage.trainedBy, 'ownlm quickstart');
  assert.equal(lineage.steps, 4);
  assert.equal(lineage.vocabSize, 512);
  assert.ok(lineage.evaluation.perplexity > 1, JSON.stringify(lineage.evaluation));

  // The model exists now: a second start registers it again without training.
  const again = record(job);
  job.start();
  const last = (await again).at(-1)!;
  assert.equal(last.state, 'succeeded', last.error ?? '');
  assert.equal(last.stage, null);
  assert.deepEqual(ready, [ready[0], ready[0]]);
});

test('a failing command ends the job as failed with its message', async () => {
  const job = new QuickstartJob({
    home,
    extraArgs: ['--steps', 'zero'],
    onModelReady: async () => assert.fail('no model expected'),
  });
  const statuses = record(job);
  job.start();
  const final = (await statuses).at(-1)!;
  assert.equal(final.state, 'failed');
  assert.match(final.error ?? '', /--steps must be a positive integer, got 'zero'/);
  assert.equal(final.modelId, null);
});

test('cancel stops a run under way', async () => {
  const job = new QuickstartJob({
    home: join(home, 'cancelled'),
    onModelReady: async () => assert.fail('no model expected'),
  });
  const stageReached = new Promise<void>((resolve) => {
    const unsubscribe = job.subscribe((status) => {
      if (status.stage !== null) {
        unsubscribe();
        resolve();
      }
    });
  });
  job.start();
  await stageReached;
  await job.cancel();
  assert.equal(job.status().state, 'failed');
  assert.equal(job.status().error, 'the quickstart was cancelled');
});
