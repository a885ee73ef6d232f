// The quickstart job for real: `ownlm quickstart` run by the app's local worker in the job folder, its six stages
// and its training seen in the first-run status, its GGUF registered on completion; a command that fails ends
// the job as failed with its message; a cancel stops a run under way.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { signUp } from '../testing/users.ts';
import { quickstartStatus, type QuickstartStatus } from './quickstart.ts';
import type { JobView } from './view.ts';

const home = mkdtempSync(join(tmpdir(), 'ownlm-quickstart-job-'));
let app: FastifyInstance;
let headers: Record<string, string>;

before(async () => {
  app = await buildApp({ home, logLevel: 'warn', jobWorkers: 1 });
  ({ headers } = await signUp(app, 'ada@example.com'));
});
after(async () => {
  await app?.close();
  rmSync(home, { recursive: true, force: true });
});

/** Every status of the next quickstart job, from its queueing until it ends, and the job as it ended. */
function follow(onStatus: (status: QuickstartStatus, job: JobView) => void = () => {}) {
  const seen: QuickstartStatus[] = [];
  return new Promise<{ seen: QuickstartStatus[]; job: JobView }>((resolve) => {
    const stop = app.ctx.jobHub.subscribe((change) => {
      if (change.job.type !== 'quickstart') return;
      const status = quickstartStatus(change.job);
      seen.push(status);
      onStatus(status, change.job);
      if (status.state !== 'running') {
        stop();
        resolve({ seen, job: change.job });
      }
    });
  });
}

const start = (params: object) =>
  app.inject({ method: 'POST', url: '/api/quickstart', headers, payload: { params } });

test('a real quickstart runs through the six stages, reports training and registers the model', async () => {
  assert.equal((await app.inject({ method: 'GET', url: '/api/quickstart', headers })).json().state, 'idle');
  const run = follow();
  const started = await start({ steps: 4, vocabSize: 512 });
  assert.equal(started.statusCode, 202, started.body);
  assert.equal(started.json().state, 'running');
  const again = await start({});
  assert.equal(again.statusCode, 409);
  assert.match(again.json().error.message, /already running/);
  const { seen, job } = await run;
  const final = seen.at(-1)!;
  assert.equal(final.state, 'succeeded', final.error ?? '');
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
  assert.equal(final.etaSeconds, null);

  // The GGUF the job made in its run folder is the registered version the status names.
  const gguf = join(home, 'jobs', job.id, 'run', 'models', 'quickstart-f16.gguf');
  assert.ok(existsSync(gguf));
  const version = await app.ctx.registry.byVersionId(final.modelId!);
  assert.equal(version.path, gguf);
  assert.equal(version.name, 'quickstart-f16');
  const lineage = JSON.parse(readFileSync(`${gguf}.lineage.json`, 'utf8'));
  assert.equal(lineage.trainedBy, 'ownlm quickstart');
  assert.equal(lineage.steps, 4);
  assert.equal(lineage.vocabSize, 512);
  assert.ok(lineage.evaluation.perplexity > 1, JSON.stringify(lineage.evaluation));
  assert.deepEqual(version.lineage, lineage);
  assert.deepEqual((await app.inject({ method: 'GET', url: '/api/quickstart', headers })).json(), final);
});

test('a failing command ends the job as failed with its message', async () => {
  const run = follow();
  assert.equal((await start({ vocabSize: 100 })).statusCode, 202);
  const final = (await run).seen.at(-1)!;
  assert.equal(final.state, 'failed');
  assert.match(final.error ?? '', /vocab size must be an integer from 259/);
  assert.equal(final.modelId, null);
});

test('cancel stops a run under way', async () => {
  let cancelling: Promise<unknown> | null = null;
  const run = follow((status, job) => {
    if (status.stage !== null)
      cancelling ??= app.inject({ method: 'POST', url: `/api/jobs/${job.id}/cancel`, headers });
  });
  assert.equal((await start({})).statusCode, 202);
  const final = (await run).seen.at(-1)!;
  assert.ok(cancelling, 'cancelled once a stage was reached');
  assert.equal(final.state, 'failed');
  assert.equal(final.error, 'the quickstart was cancelled');
});
