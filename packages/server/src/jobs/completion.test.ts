// Two apps in one process (two data folders, two databases), each with its own local worker running a real
// `ownlm tokenizer train` child at the same time: each app's completion handler completes that app's job only,
// and each app's job hub announces that app's job only.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { signUp } from '../testing/users.ts';
import { storedJob } from './testing.ts';
import type { JobView } from './view.ts';

/** A corpus folder as `ownlm data prepare` writes it, small enough to train a tokenizer on in a second. */
function writeCorpus(home: string): string {
  const words = ['the', 'cat', 'sees', 'a', 'dog', 'by', 'river', 'under', 'red', 'moon'];
  const lines = Array.from({ length: 200 }, (_, i) => {
    const text = Array.from({ length: 12 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
    return JSON.stringify({ id: `d${i}`, text });
  });
  mkdirSync(join(home, 'corpus'));
  writeFileSync(join(home, 'corpus', 'train.jsonl'), `${lines.join('\n')}\n`);
  return join(home, 'corpus');
}

/** Resolves with the job once it has ended, watching the app's hub (and its current state). */
function ended(app: FastifyInstance, headers: Record<string, string>, id: string): Promise<JobView> {
  return new Promise((resolve, reject) => {
    const isEnded = (job: JobView) => job.state !== 'queued' && job.state !== 'running';
    const stop = app.ctx.jobHub.subscribe((change) => {
      if (change.job.id === id && isEnded(change.job)) {
        stop();
        resolve(change.job);
      }
    });
    app.inject({ method: 'GET', url: `/api/jobs/${id}`, headers }).then((response) => {
      const { job } = response.json() as { job: JobView };
      if (isEnded(job)) {
        stop();
        resolve(job);
      }
    }, reject);
  });
}

test('two apps in one process each complete their own job, with their own handlers and hub', async () => {
  const apps: {
    name: string;
    home: string;
    app: FastifyInstance;
    completed: string[];
    announced: Set<string>;
  }[] = [];
  try {
    for (const name of ['first', 'second']) {
      const home = mkdtempSync(join(tmpdir(), `ownlm-app-${name}-`));
      const app = await buildApp({ home, logLevel: 'warn', jobWorkers: 1 });
      const completed: string[] = [];
      const announced = new Set<string>();
      app.ctx.jobCompletions['tokenizer-train'] = async ({ job }) => {
        completed.push(job.id);
        return { completedBy: name };
      };
      app.ctx.jobHub.subscribe((change) => announced.add(change.job.id));
      apps.push({ name, home, app, completed, announced });
    }
    // Both jobs are queued before either ends, so both apps' workers run at the same time.
    const created = await Promise.all(
      apps.map(async ({ app }) => {
        const { headers, userId } = await signUp(app, 'ada@example.com');
        const corpus = await storedJob(app.ctx, userId, 'data-prepare', writeCorpus(app.ctx.config.home));
        const response = await app.inject({
          method: 'POST',
          url: '/api/jobs',
          headers,
          payload: { type: 'tokenizer-train', params: { corpus, vocabSize: 300 } },
        });
        assert.equal(response.statusCode, 201, response.body);
        return { headers, job: (response.json() as { job: JobView }).job };
      }),
    );
    const done = await Promise.all(
      apps.map(({ app }, i) => ended(app, created[i]!.headers, created[i]!.job.id)),
    );
    apps.forEach(({ name, completed, announced }, i) => {
      const id = created[i]!.job.id;
      assert.equal(done[i]!.state, 'succeeded', done[i]!.error ?? '');
      assert.equal(done[i]!.result?.completedBy, name);
      assert.deepEqual(completed, [id], `the ${name} app's handler completes its own job only`);
      assert.deepEqual([...announced], [id], `the ${name} app's hub announces its own job only`);
    });
  } finally {
    for (const { app, home } of apps) {
      await app.close();
      rmSync(home, { recursive: true, force: true });
    }
  }
});
