// The queue's promises on real databases: a claim takes the oldest queued job, only the holder renews or
// finishes it, an expired lease is taken over, cancel and retry move the states the API documents, wall time
// and cost add up per attempt; and on PostgreSQL, two workers claiming at once never claim the same job.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { openPglite, openPostgres, type DatabaseHandle } from '../db/database.ts';
import { jobs, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { startTestPostgres, type TestPostgres } from '../testing/postgres.ts';
import { completeJob } from './completion.ts';
import { appendJobEvents, CommandEventMapper, JobHub, listJobEvents, type JobChange } from './events.ts';
import { jobDirectory } from './job-folder.ts';
import {
  cancelJob,
  claimJob,
  enqueueJob,
  finishJob,
  heartbeatJob,
  listJobs,
  releaseJob,
  retryJob,
} from './queue.ts';
import type { JobView } from './view.ts';

const ada: Actor = { userId: 'usr_ada', role: 'member', apiKeyId: null };
const bob: Actor = { userId: 'usr_bob', role: 'member', apiKeyId: null };

async function addUsers(handle: DatabaseHandle): Promise<void> {
  for (const actor of [ada, bob])
    await handle.db.insert(users).values({
      id: actor.userId,
      email: `${actor.userId}@example.com`,
      name: actor.userId,
      passwordHash: 'x',
      role: 'member',
    });
}

/** The data folder of the jobs here: where a job's files are. */
const home = mkdtempSync(join(tmpdir(), 'ownlm-queue-'));
after(() => rmSync(home, { recursive: true, force: true }));

/**
 * What of an app's context the queue uses: the data folder, the database, the hourly rate, the job hub and
 * completion handlers.
 */
const contextOf = (handle: DatabaseHandle): AppContext =>
  ({
    config: { home, hourlyRate: 3.6 },
    db: handle.db,
    jobHub: new JobHub(),
    jobCompletions: {},
  }) as unknown as AppContext;

const enqueue = (ctx: AppContext, actor = ada, name = 'job') =>
  enqueueJob({ ctx, userId: actor.userId, type: 'eval', name, params: {} });

/** Codes of a rejected promise's AppError. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error) => error instanceof AppError && error.code === code);
}

describe('job queue on PGlite', () => {
  let handle: DatabaseHandle;
  let ctx: AppContext;
  before(async () => {
    handle = await openPglite('memory://');
    ctx = contextOf(handle);
    await addUsers(handle);
  });
  after(() => handle.close());

  test('claims oldest first, one holder at a time, with the attempt counted and announced', async () => {
    const changes: JobChange[] = [];
    const stop = ctx.jobHub.subscribe((change) => changes.push(change));
    const first = await enqueue(ctx, ada, 'first');
    const second = await enqueue(ctx, ada, 'second');
    const a = await claimJob({ ctx, workerId: 'w1', leaseMs: 60_000 });
    const b = await claimJob({ ctx, workerId: 'w2', leaseMs: 60_000 });
    assert.equal(await claimJob({ ctx, workerId: 'w3', leaseMs: 60_000 }), null, 'nothing left');
    stop();
    assert.equal(a?.job.id, first.id);
    assert.equal(b?.job.id, second.id);
    assert.equal(a.job.state, 'running');
    assert.equal(a.job.attempts, 1);
    assert.equal(a.job.workerId, 'w1');
    assert.equal(a.resumed, false);
    assert.deepEqual(
      changes
        .filter((c) => c.job.id === first.id)
        .map((c) => [c.kind, c.kind === 'state' ? c.previous : null, c.job.state]),
      [
        ['state', 'queued', 'queued'],
        ['state', 'queued', 'running'],
      ],
    );
    // Only the holder renews and finishes; another worker is told the lease is not its.
    await rejectsWith(heartbeatJob({ ctx, jobId: first.id, workerId: 'w2', leaseMs: 60_000 }), 'conflict');
    await rejectsWith(finishJob({ ctx, jobId: first.id, workerId: 'w2', state: 'succeeded' }), 'conflict');
    const beat = await heartbeatJob({ ctx, jobId: first.id, workerId: 'w1', leaseMs: 60_000 });
    assert.equal(beat.cancelRequested, false);
    assert.ok(beat.leaseExpiresAt.getTime() > Date.now() + 50_000);
    const done = await finishJob({
      ctx,
      jobId: first.id,
      workerId: 'w1',
      state: 'succeeded',
      result: { x: 1 },
    });
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { x: 1 });
    assert.ok(done.finishedAt);
    await rejectsWith(heartbeatJob({ ctx, jobId: first.id, workerId: 'w1', leaseMs: 60_000 }), 'conflict');
    await finishJob({ ctx, jobId: second.id, workerId: 'w2', state: 'failed', error: 'boom' });
  });

  test('an expired lease is taken over; the old holder has lost it', async () => {
    const job = await enqueue(ctx);
    const first = await claimJob({ ctx, workerId: 'dead', leaseMs: 100 });
    assert.equal(first?.job.id, job.id);
    assert.equal(await claimJob({ ctx, workerId: 'other', leaseMs: 60_000 }), null, 'still leased');
    await sleep(150);
    const taken = await claimJob({ ctx, workerId: 'other', leaseMs: 60_000 });
    assert.equal(taken?.job.id, job.id);
    assert.equal(taken.job.attempts, 2);
    assert.equal(taken.resumed, true);
    await rejectsWith(heartbeatJob({ ctx, jobId: job.id, workerId: 'dead', leaseMs: 100 }), 'conflict');
    const states = (await listJobEvents(handle.db, job.id))
      .filter((e) => e.type === 'state')
      .map((e) => e.data);
    assert.deepEqual(states.at(-1), {
      state: 'running',
      previous: 'running',
      workerId: 'other',
      attempt: 2,
      takenOverFrom: 'dead',
    });
    await finishJob({ ctx, jobId: job.id, workerId: 'other', state: 'succeeded' });
  });

  test('cancel: queued at once, running on request (the holder sees it), ended ones refused', async () => {
    const queued = await enqueue(ctx);
    const cancelled = await cancelJob({ ctx, actor: ada, jobId: queued.id });
    assert.equal(cancelled.state, 'cancelled');
    await rejectsWith(cancelJob({ ctx, actor: ada, jobId: queued.id }), 'conflict');
    await rejectsWith(cancelJob({ ctx, actor: bob, jobId: queued.id }), 'not_found');

    const running = await enqueue(ctx);
    await claimJob({ ctx, workerId: 'w', leaseMs: 60_000 });
    const asked = await cancelJob({ ctx, actor: ada, jobId: running.id });
    assert.equal(asked.state, 'running');
    assert.equal(asked.cancelRequested, true);
    assert.equal(
      (await heartbeatJob({ ctx, jobId: running.id, workerId: 'w', leaseMs: 60_000 })).cancelRequested,
      true,
    );
    assert.equal(
      (await finishJob({ ctx, jobId: running.id, workerId: 'w', state: 'cancelled' })).state,
      'cancelled',
    );

    // A job asked to cancel whose worker died is cancelled, not taken over.
    const orphan = await enqueue(ctx);
    await claimJob({ ctx, workerId: 'gone', leaseMs: 50 });
    await cancelJob({ ctx, actor: ada, jobId: orphan.id });
    await sleep(100);
    assert.equal(await claimJob({ ctx, workerId: 'w', leaseMs: 60_000 }), null);
    const [row] = await handle.db.select().from(jobs).where(eq(jobs.id, orphan.id));
    assert.equal(row?.state, 'cancelled');
  });

  test('retry queues a failed or cancelled job again; succeeded and running ones are refused', async () => {
    const job = await enqueue(ctx);
    await claimJob({ ctx, workerId: 'w', leaseMs: 60_000 });
    await rejectsWith(retryJob({ ctx, actor: ada, jobId: job.id }), 'conflict');
    await finishJob({ ctx, jobId: job.id, workerId: 'w', state: 'failed', error: 'out of memory' });
    const again = await retryJob({ ctx, actor: ada, jobId: job.id });
    assert.equal(again.state, 'queued');
    assert.equal(again.error, null);
    assert.equal(again.finishedAt, null);
    const claim = await claimJob({ ctx, workerId: 'w2', leaseMs: 60_000 });
    assert.equal(claim?.job.id, job.id);
    assert.equal(claim.resumed, true);
    await finishJob({ ctx, jobId: job.id, workerId: 'w2', state: 'succeeded' });
    await rejectsWith(retryJob({ ctx, actor: ada, jobId: job.id }), 'conflict');
  });

  test('release puts a job back at once; wall time sums over attempts and sets the cost', async () => {
    const job = await enqueue(ctx);
    await claimJob({ ctx, workerId: 'w', leaseMs: 60_000 });
    // The attempt began two seconds ago (as if it had run that long before this heartbeat).
    await handle.db
      .update(jobs)
      .set({ heartbeatAt: sql`now() - interval '2 seconds'` })
      .where(eq(jobs.id, job.id));
    await heartbeatJob({ ctx, jobId: job.id, workerId: 'w', leaseMs: 60_000 });
    const released = await releaseJob({ ctx, jobId: job.id, workerId: 'w', reason: 'shutting down' });
    assert.equal(released?.state, 'queued');
    assert.equal(released.workerId, null);
    assert.ok(released.wallSeconds >= 2 && released.wallSeconds < 10, String(released.wallSeconds));
    const claim = await claimJob({ ctx, workerId: 'w2', leaseMs: 60_000 });
    assert.equal(claim?.job.id, job.id, 'released jobs are claimed at once');
    await handle.db
      .update(jobs)
      .set({ heartbeatAt: sql`now() - interval '3 seconds'` })
      .where(eq(jobs.id, job.id));
    const done = await finishJob({ ctx, jobId: job.id, workerId: 'w2', state: 'succeeded' });
    assert.ok(done.wallSeconds >= 5 && done.wallSeconds < 15, String(done.wallSeconds));
    assert.equal(done.cost, (done.wallSeconds / 3600) * 3.6);

    const { jobs: list, totals } = await listJobs({ ctx, actor: ada });
    assert.equal(
      totals.wallSeconds,
      list.reduce((sum, j) => sum + j.wallSeconds, 0),
    );
    assert.equal(
      totals.cost,
      list.reduce((sum, j) => sum + j.cost, 0),
    );
    assert.ok(list.every((j) => j.userId === ada.userId));
  });

  /** Claims a queued export job whose command wrote `run/model.gguf` in its folder. */
  async function exported(): Promise<JobView> {
    const job = await enqueueJob({ ctx, userId: ada.userId, type: 'export', name: 'e', params: {} });
    const claim = await claimJob({ ctx, workerId: 'w', types: ['export'], leaseMs: 60_000 });
    assert.equal(claim?.job.id, job.id);
    mkdirSync(join(jobDirectory(home, job.id), 'run'), { recursive: true });
    writeFileSync(join(jobDirectory(home, job.id), 'run', 'model.gguf'), 'GGUF');
    return claim!.job;
  }

  test('completion handlers add to the result before success, and fail the job when they throw', async () => {
    ctx.jobCompletions.export = async ({ job, artifacts, lastEvents }) => ({
      seen: job.result?.out,
      read: artifacts.out,
      events: lastEvents.map((e) => e.type),
    });
    const job = await exported();
    await appendJobEvents({
      ctx,
      jobId: job.id,
      events: [{ type: 'artifact', data: { kind: 'gguf', path: join(jobDirectory(home, job.id), 'run') } }],
      tokensPerStep: 0,
    });
    const done = await completeJob({ ctx, job, workerId: 'w', result: { out: 'run/model.gguf' } });
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, {
      out: 'run/model.gguf',
      seen: 'run/model.gguf',
      read: 'run/model.gguf',
      events: ['state', 'state', 'artifact'],
    });
    const [artifact] = (await listJobEvents(handle.db, job.id)).filter((e) => e.type === 'artifact');
    assert.deepEqual(artifact?.data, { kind: 'gguf', path: 'run' }, 'stored relative to the job folder');

    ctx.jobCompletions.export = async () => {
      throw new Error(`the registry is full: ${home}/models/a.gguf`);
    };
    const failing = await exported();
    const failed = await completeJob({ ctx, job: failing, workerId: 'w', result: { out: 'run/model.gguf' } });
    assert.equal(failed.state, 'failed');
    assert.equal(
      failed.error,
      "the job's outputs could not be registered: the registry is full: models/a.gguf",
    );
  });

  test("a result naming anything but a file in the job's run folder is refused before any handler runs", async () => {
    const handled: string[] = [];
    ctx.jobCompletions.export = async ({ job }) => {
      handled.push(job.id);
      return {};
    };
    const job = await exported();
    const other = await exported();
    for (const out of [
      '/etc/passwd',
      `${jobDirectory(home, job.id)}/run/model.gguf`,
      '../../etc/passwd',
      `../${other.id}/run/model.gguf`,
      'run/../../other/run/model.gguf',
      'inputs/config/config.json',
      'run/never-uploaded.gguf',
      7,
    ])
      await assert.rejects(
        completeJob({ ctx, job, workerId: 'w', result: { out } }),
        (error) =>
          error instanceof AppError && error.code === 'invalid_request' && error.param === 'result.out',
        String(out),
      );
    assert.deepEqual(handled, []);
    const [row] = await handle.db.select().from(jobs).where(eq(jobs.id, job.id));
    assert.equal(row?.state, 'running', 'the job is left as it was');
  });

  test('train steps become progress and metrics; tokens are counted per step', async () => {
    const job = await enqueue(ctx);
    // The command reports paths in the job folder it runs in, absolute or not.
    const jobDir = '/work/jobs/job_1';
    const mapper = new CommandEventMapper(jobDir);
    const lines = [
      { type: 'run-start', step: 4, steps: 8, resumedFrom: 'ckpt', parameters: 1 },
      { type: 'train-step', step: 5, steps: 8, loss: 3, lr: 0.1, tokensPerSecond: 100, elapsedSeconds: 10 },
      { type: 'train-step', step: 6, steps: 8, loss: 2.5, lr: 0.1, tokensPerSecond: 100, elapsedSeconds: 12 },
      { type: 'eval-result', step: 6, validationLoss: 2.75 },
      { type: 'checkpoint-saved', step: 6, dir: `${jobDir}/run/checkpoints/step-6` },
      { type: 'finetune-stage', stage: 'export the adapter' },
      { type: 'artifact-written', kind: 'peft', path: 'run/adapter' },
      {
        type: 'run-end',
        step: 6,
        loss: 2.5,
        validationLoss: 2.75,
        checkpoint: `${jobDir}/run/checkpoints/step-6`,
      },
    ].map((line) => mapper.map(JSON.stringify(line)));
    await appendJobEvents({ ctx, jobId: job.id, events: lines.flatMap((l) => l.events), tokensPerStep: 64 });
    const events = (await listJobEvents(handle.db, job.id)).filter((e) => e.type !== 'state');
    assert.deepEqual(
      events.map((e) => [e.type, e.data]),
      [
        ['progress', { step: 4, steps: 8 }],
        ['progress', { step: 5, steps: 8, loss: 3, tokensPerSecond: 100, etaSeconds: null }],
        ['metrics', { step: 5, loss: 3, lr: 0.1 }],
        ['progress', { step: 6, steps: 8, loss: 2.5, tokensPerSecond: 100, etaSeconds: 4 }],
        ['metrics', { step: 6, loss: 2.5, lr: 0.1 }],
        ['metrics', { step: 6, validationLoss: 2.75 }],
        ['progress', { validationLoss: 2.75 }],
        ['checkpoint', { step: 6, dir: 'run/checkpoints/step-6' }],
        ['progress', { stage: 'export the adapter' }],
        ['artifact', { kind: 'peft', path: 'run/adapter' }],
        ['progress', { step: 6, etaSeconds: 0 }],
      ],
    );
    assert.deepEqual(lines.at(-1)?.result, {
      step: 6,
      loss: 2.5,
      validationLoss: 2.75,
      checkpoint: 'run/checkpoints/step-6',
    });
    const [row] = await handle.db.select().from(jobs).where(eq(jobs.id, job.id));
    assert.equal(row?.tokensProcessed, 2 * 64);
    assert.deepEqual(row?.progress, {
      step: 6,
      steps: 8,
      loss: 2.5,
      tokensPerSecond: 100,
      etaSeconds: 0,
      validationLoss: 2.75,
      stage: 'export the adapter',
    });
    assert.deepEqual(mapper.map('not json').events, [
      { type: 'log', data: { stream: 'stdout', line: 'not json' } },
    ]);
  });
});

describe('job queue on PostgreSQL', () => {
  let server: TestPostgres;
  let first: DatabaseHandle;
  let second: DatabaseHandle;
  before(async () => {
    server = await startTestPostgres();
    first = await openPostgres(server.url);
    second = await openPostgres(server.url);
    await addUsers(first);
  });
  after(async () => {
    await first?.close();
    await second?.close();
    await server?.stop();
  });

  test('two workers claiming at once (SKIP LOCKED) claim each job exactly once', async () => {
    const queued = new Set<string>();
    for (let i = 0; i < 40; i++) queued.add((await enqueue(contextOf(first), ada, `job ${i}`)).id);
    const claimAll = async (handle: DatabaseHandle, workerId: string) => {
      const ctx = contextOf(handle);
      const claimed: string[] = [];
      for (;;) {
        const claim = await claimJob({ ctx, workerId, leaseMs: 60_000 });
        if (!claim) return claimed;
        claimed.push(claim.job.id);
      }
    };
    const [a, b] = await Promise.all([claimAll(first, 'a'), claimAll(second, 'b')]);
    assert.equal(a.length + b.length, queued.size, `a ${a.length}, b ${b.length}`);
    assert.deepEqual(new Set([...a, ...b]), queued);
    assert.ok(a.length > 0 && b.length > 0, `both workers got work: a ${a.length}, b ${b.length}`);
    const rows = await first.db.select().from(jobs);
    assert.ok(rows.every((row) => row.attempts === 1 && row.state === 'running'));
  });
});
