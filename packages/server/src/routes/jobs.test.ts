// The jobs API through the whole app with its local worker running real `ownlm train` children on a tiny
// model: the job types' schemas; validation naming the field; inputs named by id among the user's own, never by
// path; a job SIGKILLed after its first checkpoint resumes and ends with the same weights and metrics as an
// uninterrupted one, and no view of it names the server's folders; a server restarted mid-job finishes it and
// keeps every event; cancel and retry (resuming from the checkpoint); SSE replay from Last-Event-ID; owner-only
// access.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import type { ServerConfig } from '../config.ts';
import type { JobEventView } from '../jobs/events.ts';
import { oneConversation, pretrainJobs, slowPretrain, type PretrainJobs } from '../jobs/testing.ts';
import type { JobView } from '../jobs/view.ts';
import { signUp } from '../testing/users.ts';

interface StreamFrame {
  id: number | null;
  event: string;
  data: JobEventView & { job?: JobView };
}

function frames(body: string): StreamFrame[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const id = lines.find((l) => l.startsWith('id: '))?.slice(4);
      return {
        id: id === undefined ? null : Number(id),
        event: lines.find((l) => l.startsWith('event: '))!.slice(7),
        data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)),
      };
    });
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A JSON Schema as GET /api/job-types serves it (the keywords the tests read). */
interface SchemaObject {
  type?: string;
  description?: string;
  default?: unknown;
  defaultDescription?: string;
  const?: unknown;
  anyOf?: SchemaObject[];
  items?: SchemaObject;
  required?: string[];
  additionalProperties?: boolean;
  properties: Record<string, SchemaObject | undefined>;
  [keyword: string]: unknown;
}

describe('jobs API with local workers', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-jobs-'));
  const options: Partial<ServerConfig> & { home: string } = {
    home,
    logLevel: 'warn',
    jobWorkers: 1,
    jobLeaseMs: 1500,
    hourlyRate: 3.6,
    currency: 'EUR',
  };
  let app: FastifyInstance;
  let headers: Record<string, string>;
  let inputs: PretrainJobs;

  const call = (method: 'GET' | 'POST', url: string, payload?: object, extra: Record<string, string> = {}) =>
    app.inject({ method, url, headers: { ...headers, ...extra }, ...(payload ? { payload } : {}) });

  async function create(params: object, name?: string): Promise<JobView> {
    const response = await call('POST', '/api/jobs', { type: 'pretrain', name, params });
    assert.equal(response.statusCode, 201, response.body);
    return (response.json() as { job: JobView }).job;
  }

  const getJob = async (id: string) =>
    ((await call('GET', `/api/jobs/${id}`)).json() as { job: JobView }).job;
  const events = async (id: string) =>
    ((await call('GET', `/api/jobs/${id}/events`)).json() as { events: JobEventView[] }).events;

  /** Resolves once the job satisfies `done`, watching the hub (and the current state, in case it already does). */
  function until(id: string, done: (job: JobView) => boolean): Promise<JobView> {
    return new Promise((resolve, reject) => {
      const stop = app.ctx.jobHub.subscribe((change) => {
        if (change.job.id === id && done(change.job)) {
          stop();
          resolve(change.job);
        }
      });
      getJob(id).then((job) => {
        if (done(job)) {
          stop();
          resolve(job);
        }
      }, reject);
    });
  }

  /** Calls `action` once the job has stored its first checkpoint event. */
  function afterFirstCheckpoint(id: string, action: () => void): Promise<void> {
    return new Promise((resolve) => {
      const stop = app.ctx.jobHub.subscribe((change) => {
        if (change.job.id === id && change.kind === 'event' && change.event.type === 'checkpoint') {
          stop();
          action();
          resolve();
        }
      });
    });
  }

  /** The pid of the job's current command, from the worker's log event naming it. */
  async function commandPid(id: string): Promise<number> {
    const logs = (await events(id)).filter((e) => e.type === 'log' && e.data.stream === 'worker');
    const match = /\(pid (\d+)\)$/.exec(String(logs.at(-1)?.data.line));
    assert.ok(match, 'the worker logs the command and its pid');
    return Number(match[1]);
  }

  /** The loss of every step, the last report of a step winning (steps redone after a resume report twice). */
  async function lossByStep(id: string): Promise<Map<number, unknown>> {
    const losses = new Map<number, unknown>();
    for (const event of await events(id))
      if (event.type === 'metrics')
        losses.set(Number(event.data.step), event.data.loss ?? losses.get(Number(event.data.step)));
    return losses;
  }

  before(async () => {
    app = await buildApp(options);
    const ada = await signUp(app, 'ada@example.com');
    headers = ada.headers;
    inputs = await pretrainJobs(app.ctx, ada.userId);
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('parameters are validated with errors naming the field', async () => {
    for (const [body, param] of [
      [{ type: 'nap', params: {} }, 'type'],
      [{ type: 'pretrain', params: { tokenizer: inputs.tokenizer } }, 'params.data'],
      [{ type: 'pretrain', params: { ...inputs, data: '/etc' } }, 'params.data'],
      [{ type: 'pretrain', params: { ...inputs, data: join(home, 'data', 'nothing') } }, 'params.data'],
      [{ type: 'pretrain', params: { ...inputs, steps: 'ten' } }, 'params.steps'],
      [{ type: 'pretrain', params: { ...inputs, stepz: 10 } }, 'params.stepz'],
      [{ type: 'pretrain', params: { ...inputs, schedule: 'sideways' } }, 'params.schedule'],
      [{ type: 'pretrain', params: { ...inputs, lr: 0.001, minLr: 0.01 } }, 'params.minLr'],
      [{ type: 'finetune', params: { base: 'mv_missing', dataset: 'ds_missing' } }, 'params.base'],
      [{ type: 'pretrain', name: 7, params: inputs }, 'name'],
    ] as const) {
      const refused = await call('POST', '/api/jobs', body);
      assert.equal(refused.statusCode, 400, `${JSON.stringify(body)}: ${refused.body}`);
      const { error } = refused.json() as { error: { param: string; message: string } };
      assert.equal(error.param, param, error.message);
      if (param === 'params.schedule') assert.match(error.message, /one of constant, linear, cosine/);
      if (param === 'params.minLr') assert.match(error.message, /min_lr \(0\.01\) must not exceed lr/);
    }
    const preflight = await call('POST', '/api/jobs/preflight', { type: 'pretrain', params: inputs });
    assert.equal(preflight.statusCode, 501, preflight.body);
    assert.match(preflight.json().error.message, /finetune jobs only/);
    assert.equal((await app.inject({ method: 'GET', url: '/api/jobs' })).statusCode, 401);
  });

  test("GET /api/job-types: each type's inputs and its parameters' schema, with the studio's defaults", async () => {
    const { types } = (await call('GET', '/api/job-types')).json() as {
      types: Record<string, { summary: string; inputs: Record<string, unknown>; params: SchemaObject }>;
    };
    assert.deepEqual(Object.keys(types).sort(), [
      'data-pack',
      'data-prepare',
      'eval',
      'export',
      'finetune',
      'pretrain',
      'quickstart',
      'redteam',
      'tokenizer-train',
    ]);
    const finetune = types.finetune!;
    assert.deepEqual(finetune.inputs, { base: 'model', dataset: 'dataset' });
    assert.deepEqual(finetune.params.required, ['base', 'dataset']);
    const { rank, loraDropout, lr, targets, method, context } = finetune.params.properties;
    assert.deepEqual(rank, { description: 'LoRA rank', default: 8, exclusiveMinimum: 0, type: 'integer' });
    assert.equal(loraDropout?.default, 0.05);
    assert.equal(lr?.default, null);
    assert.equal(lr?.defaultDescription, '2e-4 for lora, 2e-5 for full');
    assert.deepEqual(targets?.items?.anyOf?.length, 7);
    assert.deepEqual(
      method?.anyOf?.map((branch) => branch.const),
      ['lora', 'full'],
    );
    assert.equal(context?.defaultDescription, "the base's");
    assert.deepEqual(types.pretrain!.inputs, {
      data: { job: 'data-pack' },
      tokenizer: { job: 'tokenizer-train' },
    });
    assert.equal(types.pretrain!.params.properties.batchSize?.default, 16);
    assert.equal(types.pretrain!.params.additionalProperties, false);
    assert.ok(
      !Object.keys(types.finetune!.params.properties).some((key) => ['data', 'out'].includes(key)),
      'no parameter names a path',
    );
  });

  test("inputs name the user's own objects by id, never a path of the data folder", async () => {
    const carol = await signUp(app, 'carol@example.com');
    const carols = await pretrainJobs(app.ctx, carol.userId);
    const carolsDataset = await oneConversation(app, carol.headers);
    const refused = async (type: string, params: object, param: string) => {
      const response = await call('POST', '/api/jobs', { type, params });
      assert.equal(response.statusCode, 400, `${type} ${JSON.stringify(params)}: ${response.body}`);
      const { error } = response.json() as { error: { param: string; message: string } };
      assert.equal(error.param, param, error.message);
      return error.message;
    };
    // Folders of the data folder: another user's dataset, the database, the data folder itself.
    for (const path of [`datasets/${carolsDataset}`, 'db', '.', home])
      for (const name of ['input', 'dataset'])
        await refused('data-prepare', { [name]: path }, `params.${name}`);
    // Another user's object is refused with the message of a missing one.
    const missing = (id: string, message: string) => message.replace(id, '<id>');
    assert.equal(
      missing(carolsDataset, await refused('data-prepare', { dataset: carolsDataset }, 'params.dataset')),
      missing('ds_missing', await refused('data-prepare', { dataset: 'ds_missing' }, 'params.dataset')),
    );
    assert.equal(
      missing(carols.data, await refused('pretrain', { ...inputs, data: carols.data }, 'params.data')),
      missing('job_missing', await refused('pretrain', { ...inputs, data: 'job_missing' }, 'params.data')),
    );
    // A job of another type, or a path to a job's output, is not a data-pack job.
    await refused('pretrain', { ...inputs, data: inputs.tokenizer }, 'params.data');
    await refused('pretrain', { ...inputs, data: `jobs/${inputs.data}/run/shards` }, 'params.data');
    await refused('data-prepare', {}, 'params.dataset');
  });

  let uninterrupted: JobView;

  test('a job runs in a child process to the end: result, progress, tokens, wall time and cost', async () => {
    const job = await create({ ...inputs, ...slowPretrain }, 'uninterrupted');
    assert.equal(job.state, 'queued');
    uninterrupted = await until(job.id, (j) => j.state !== 'queued' && j.state !== 'running');
    assert.equal(uninterrupted.state, 'succeeded', uninterrupted.error ?? '');
    assert.equal(uninterrupted.attempts, 1);
    assert.equal(uninterrupted.result?.step, 600);
    assert.equal(typeof uninterrupted.result?.loss, 'number');
    assert.equal(uninterrupted.result?.checkpoint, 'run/checkpoints/step-0000600');
    assert.equal(uninterrupted.progress?.step, 600);
    assert.equal(uninterrupted.tokensProcessed, 600 * 8 * 64);
    assert.ok(uninterrupted.wallSeconds > 0);
    assert.equal(uninterrupted.cost, (uninterrupted.wallSeconds / 3600) * 3.6);
    const list = (await call('GET', '/api/jobs')).json() as {
      jobs: JobView[];
      totals: { wallSeconds: number; cost: number; tokensProcessed: number; currency: string };
    };
    assert.deepEqual(
      list.jobs.map((j) => j.id).sort(),
      [job.id, inputs.tokenizer, inputs.data].sort(),
      'the job and those that made its inputs',
    );
    assert.equal(list.jobs[0]?.id, job.id, 'newest first');
    assert.deepEqual(list.totals, {
      wallSeconds: uninterrupted.wallSeconds,
      cost: uninterrupted.cost,
      tokensProcessed: uninterrupted.tokensProcessed,
      currency: 'EUR',
    });
    // No view of the job names the server's folders: the job, the list, its events, its stream, notifications.
    const views = await Promise.all(
      [
        `/api/jobs/${job.id}`,
        '/api/jobs',
        `/api/jobs/${job.id}/events`,
        `/api/jobs/${job.id}/stream`,
        '/api/notifications',
      ].map(async (url) => (await call('GET', url)).body),
    );
    for (const view of views)
      assert.ok(!view.includes(home), `a view names the data folder: ${view.slice(0, 300)}`);
    assert.ok(
      views[2]!.includes('"dir":"run/checkpoints/step-0000010"'),
      'checkpoints are named in the job folder',
    );
  });

  test('SIGKILL of the command after its first checkpoint: it resumes and ends as an uninterrupted run', async () => {
    const job = await create({ ...inputs, ...slowPretrain }, 'killed');
    await afterFirstCheckpoint(job.id, () => {
      commandPid(job.id).then((pid) => process.kill(pid, 'SIGKILL'));
    });
    const done = await until(job.id, (j) => j.state !== 'queued' && j.state !== 'running');
    assert.equal(done.state, 'succeeded', done.error ?? '');
    assert.equal(done.attempts, 2);
    const stored = await events(job.id);
    const released = stored.find(
      (e) => e.type === 'state' && e.data.state === 'queued' && e.data.previous === 'running',
    );
    assert.match(String(released?.data.reason), /killed by SIGKILL/);
    const resumedAt = stored
      .filter((e) => e.type === 'progress' && 'steps' in e.data && !('loss' in e.data))
      .at(-1);
    assert.ok(
      Number(resumedAt?.data.step) >= 10,
      `resumed from a checkpoint: ${JSON.stringify(resumedAt?.data)}`,
    );
    assert.equal(done.result?.loss, uninterrupted.result?.loss);
    assert.equal(done.result?.validationLoss, uninterrupted.result?.validationLoss);
    assert.equal(
      sha256(join(home, 'jobs', job.id, String(done.result?.checkpoint), 'model.safetensors')),
      sha256(
        join(home, 'jobs', uninterrupted.id, String(uninterrupted.result?.checkpoint), 'model.safetensors'),
      ),
      'the same final weights',
    );
    assert.deepEqual(
      await lossByStep(job.id),
      await lossByStep(uninterrupted.id),
      'the same loss at every step',
    );
    assert.ok(
      done.tokensProcessed > uninterrupted.tokensProcessed,
      'steps redone after the resume count too',
    );
  });

  test('a server restarted mid-job finishes the job and keeps every event stored before', async () => {
    const job = await create({ ...inputs, ...slowPretrain }, 'restarted');
    const live = call('GET', `/api/jobs/${job.id}/stream`);
    await afterFirstCheckpoint(job.id, () => undefined);
    await app.close();
    // Open streams end at shutdown (a browser reconnects with Last-Event-ID).
    assert.ok(frames((await live).body).some((f) => f.event === 'checkpoint'));
    app = await buildApp(options);
    const before = await events(job.id);
    // The new server's worker may have claimed the job again already; the release precedes that.
    const released = before.find(
      (e) => e.type === 'state' && e.data.state === 'queued' && e.data.previous === 'running',
    );
    assert.deepEqual(released?.data, {
      state: 'queued',
      previous: 'running',
      reason: 'the server is shutting down',
    });
    const done = await until(job.id, (j) => j.state !== 'queued' && j.state !== 'running');
    assert.equal(done.state, 'succeeded', done.error ?? '');
    assert.equal(done.attempts, 2);
    const afterwards = await events(job.id);
    assert.deepEqual(afterwards.slice(0, before.length), before, 'nothing stored before the restart is lost');
    assert.equal(done.result?.loss, uninterrupted.result?.loss);
  });

  test('cancel stops a running job within seconds; retry resumes it from its checkpoint; SSE replays', async () => {
    const job = await create({ ...inputs, ...slowPretrain }, 'cancelled');
    // A live stream from the start, read to its end (it ends when the job does).
    const live = call('GET', `/api/jobs/${job.id}/stream`);
    await afterFirstCheckpoint(job.id, () => undefined);
    const asked = await call('POST', `/api/jobs/${job.id}/cancel`);
    assert.equal(asked.statusCode, 200, asked.body);
    assert.equal((asked.json() as { job: JobView }).job.cancelRequested, true);
    const cancelled = await until(job.id, (j) => j.state === 'cancelled');
    assert.equal(cancelled.attempts, 1);
    assert.ok(Number(cancelled.progress?.step) < 600, 'stopped before the end');
    const stream = frames((await live).body);
    const stored = await events(job.id);
    assert.deepEqual(
      stream.map((f) => f.id),
      stored.map((e) => e.id),
      'the live stream carries every stored event once, in order',
    );
    assert.equal(stream.at(-1)?.event, 'state');
    assert.equal(stream.at(-1)?.data.job?.state, 'cancelled');
    assert.equal((await call('POST', `/api/jobs/${job.id}/cancel`)).statusCode, 409);

    const retried = await call('POST', `/api/jobs/${job.id}/retry`);
    assert.equal((retried.json() as { job: JobView }).job.state, 'queued');
    const done = await until(job.id, (j) => j.state === 'succeeded' || j.state === 'failed');
    assert.equal(done.state, 'succeeded', done.error ?? '');
    const all = await events(job.id);
    const resumedAt = all.slice(stored.length).find((e) => e.type === 'progress' && 'steps' in e.data);
    assert.ok(
      Number(resumedAt?.data.step) >= 10,
      `resumed from a checkpoint: ${JSON.stringify(resumedAt?.data)}`,
    );
    assert.equal(done.result?.loss, uninterrupted.result?.loss);

    // Replay after an event id: by Last-Event-ID and by ?after=, the same frames as the stored events after it.
    const middle = all[Math.floor(all.length / 2)]!.id;
    const byHeader = frames(
      (await call('GET', `/api/jobs/${job.id}/stream`, undefined, { 'last-event-id': String(middle) })).body,
    );
    const byQuery = frames((await call('GET', `/api/jobs/${job.id}/stream?after=${middle}`)).body);
    const expected = all.filter((e) => e.id > middle);
    assert.deepEqual(
      byHeader.map((f) => f.id),
      expected.map((e) => e.id),
    );
    assert.deepEqual(byQuery, byHeader);
    assert.deepEqual(
      byHeader.filter((f) => f.event !== 'state').map((f) => f.data),
      JSON.parse(JSON.stringify(expected.filter((e) => e.type !== 'state'))),
    );
    assert.ok(byHeader.filter((f) => f.event === 'state').every((f) => f.data.job?.id === job.id));
    assert.deepEqual(
      ((await call('GET', `/api/jobs/${job.id}/events?after=${middle}`)).json() as { events: JobEventView[] })
        .events,
      JSON.parse(JSON.stringify(expected)),
    );
    assert.equal((await call('GET', `/api/jobs/${job.id}/stream?after=x`)).statusCode, 400);
  });

  test("another user's job is not found on every route", async () => {
    const bob = (await signUp(app, 'bob@example.com')).headers;
    const id = uninterrupted.id;
    for (const [method, url] of [
      ['GET', `/api/jobs/${id}`],
      ['GET', `/api/jobs/${id}/events`],
      ['GET', `/api/jobs/${id}/stream`],
      ['POST', `/api/jobs/${id}/cancel`],
      ['POST', `/api/jobs/${id}/retry`],
    ] as const) {
      const response = await app.inject({ method, url, headers: bob });
      assert.equal(response.statusCode, 404, `${method} ${url}`);
    }
    const list = (await app.inject({ method: 'GET', url: '/api/jobs', headers: bob })).json();
    assert.deepEqual(list.jobs, []);
  });
});
