// The worker API on loopback: worker tokens made by admins only and scoped both ways (a user's session or API
// key opens no worker route, a worker token no user route); the protocol's refusals (another worker's job,
// bad events, unsafe artifact names, a result naming files the worker did not upload); and a real `ownlm worker`
// process that runs a pretrain job end to end (inputs and config file downloaded, events pushed, checkpoint
// uploaded, completion handler given the server's copies) and stops a second job when it is cancelled.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { OWNLM_CLI, runJobCommand } from '../jobs/child.ts';
import type { JobEventView } from '../jobs/events.ts';
import { linkJobInputs } from '../jobs/job-folder.ts';
import { jobArguments, layOutJob } from '../jobs/job-types.ts';
import {
  oneConversation,
  pretrainJobs,
  slowPretrain,
  tinyPretrain,
  type PretrainJobs,
} from '../jobs/testing.ts';
import type { JobView } from '../jobs/view.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { signUp } from '../testing/users.ts';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('worker API', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-worker-api-'));
  const workDir = mkdtempSync(join(tmpdir(), 'ownlm-remote-worker-'));
  let app: FastifyInstance;
  let url: string;
  let admin: Record<string, string>;
  let user: Record<string, string>;
  let apiKey: string;
  let workerSecret: string;
  let inputs: PretrainJobs;

  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

  async function createJob(params: object): Promise<JobView> {
    const response = await app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: admin,
      payload: { type: 'pretrain', params },
    });
    assert.equal(response.statusCode, 201, response.body);
    return response.json().job;
  }

  function until(id: string, done: (job: JobView, event?: JobEventView) => boolean): Promise<JobView> {
    return new Promise((resolve) => {
      const stop = app.ctx.jobHub.subscribe((change) => {
        if (change.job.id === id && done(change.job, change.event)) {
          stop();
          resolve(change.job);
        }
      });
    });
  }

  /** A real `ownlm worker` process working in `dir`, and what it has logged so far. */
  function startWorker(dir: string) {
    const worker = spawn(
      process.execPath,
      [
        OWNLM_CLI,
        'worker',
        '--server',
        url,
        '--token',
        workerSecret,
        '--work-dir',
        dir,
        '--poll-seconds',
        '0.2',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    worker.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    return { worker, log: () => log };
  }

  before(async () => {
    // A base model for the fine-tune whose worker reports files it did not upload.
    mkdirSync(join(home, 'models'));
    copyFileSync((await tinyModel()).gguf, join(home, 'models', 'tiny.gguf'));
    // No local workers: only the remote one takes jobs.
    app = await buildApp({ home, logLevel: 'warn', jobWorkers: 0, jobLeaseMs: 1500 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const signedUp = await signUp(app, 'admin@example.com');
    admin = signedUp.headers;
    inputs = await pretrainJobs(app.ctx, signedUp.userId);
    user = (await signUp(app, 'user@example.com')).headers;
    const key = await app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: admin,
      payload: { name: 'k' },
    });
    apiKey = key.json().secret;
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });

  test('worker tokens: admins create them; each kind of credential opens only its own routes', async () => {
    const refused = await app.inject({
      method: 'POST',
      url: '/api/worker-tokens',
      headers: user,
      payload: { name: 'gpu' },
    });
    assert.equal(refused.statusCode, 403);
    const created = await app.inject({
      method: 'POST',
      url: '/api/worker-tokens',
      headers: admin,
      payload: { name: 'gpu' },
    });
    assert.equal(created.statusCode, 201, created.body);
    workerSecret = created.json().secret;
    assert.match(workerSecret, /^ow-worker-/);
    const listed = await app.inject({ method: 'GET', url: '/api/worker-tokens', headers: admin });
    assert.deepEqual(
      listed.json().tokens.map((t: { name: string }) => t.name),
      ['gpu'],
    );
    assert.ok(!listed.body.includes(workerSecret), 'the secret is never listed');

    const claim = { method: 'POST' as const, url: '/api/worker/claim', payload: { workerId: 'w' } };
    assert.equal(
      (await app.inject({ ...claim, headers: bearer(workerSecret) })).statusCode,
      204,
      'nothing queued',
    );
    for (const headers of [{}, admin, bearer(apiKey), bearer('ow-worker-forged')]) {
      const response = await app.inject({ ...claim, headers });
      assert.equal(response.statusCode, 401, JSON.stringify(headers));
    }
    for (const [method, path] of [
      ['GET', '/api/jobs'],
      ['GET', '/api/session'],
      ['GET', '/v1/models'],
      ['GET', '/api/worker-tokens'],
    ] as const) {
      const response = await app.inject({ method, url: path, headers: bearer(workerSecret) });
      if (path === '/api/session') assert.equal(response.json().user, null, 'a worker token is nobody');
      else assert.equal(response.statusCode, 401, `${method} ${path}: ${response.body}`);
    }

    const other = await app.inject({
      method: 'POST',
      url: '/api/worker-tokens',
      headers: admin,
      payload: { name: 'old' },
    });
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/api/worker-tokens/${other.json().token.id}`,
      headers: admin,
    });
    assert.equal(revoked.statusCode, 204);
    assert.equal((await app.inject({ ...claim, headers: bearer(other.json().secret) })).statusCode, 401);
  });

  test("the protocol refuses another worker's job, bad events and unsafe names", async () => {
    const job = await createJob({ ...inputs, ...tinyPretrain, steps: 4 });
    const headers = bearer(workerSecret);
    const claimed = await app.inject({
      method: 'POST',
      url: '/api/worker/claim',
      headers,
      payload: { workerId: 'w1' },
    });
    assert.equal(claimed.statusCode, 200, claimed.body);
    const answer = claimed.json();
    assert.equal(answer.job.id, job.id);
    assert.deepEqual(answer.command, [
      'train',
      '--config',
      'inputs/config/config.json',
      '--resume',
      '--events',
      '-',
    ]);
    const names = answer.inputs.map((i: { name: string }) => i.name);
    for (const name of ['config/config.json', 'tokenizer/tokenizer.json', 'data/index.json'])
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    const base = `/api/worker/jobs/${job.id}`;
    const beat = await app.inject({
      method: 'POST',
      url: `${base}/heartbeat`,
      headers,
      payload: { workerId: 'w2' },
    });
    assert.equal(beat.statusCode, 409);
    const input = await app.inject({
      method: 'GET',
      url: `${base}/inputs/tokenizer/tokenizer.json?workerId=w1`,
      headers,
    });
    assert.equal(
      input.body,
      readFileSync(join(home, 'jobs', inputs.tokenizer, 'run', 'tokenizer', 'tokenizer.json'), 'utf8'),
    );
    const config = await app.inject({
      method: 'GET',
      url: `${base}/inputs/config/config.json?workerId=w1`,
      headers,
    });
    assert.deepEqual(
      [config.json().data, config.json().tokenizer, config.json().out, config.json().steps],
      ['inputs/data', 'inputs/tokenizer', 'run', 4],
      'the config file names the inputs where the worker puts them',
    );
    for (const name of ['tokenizer/..%2F..%2Fdb', 'nothing/x']) {
      const response = await app.inject({
        method: 'GET',
        url: `${base}/inputs/${name}?workerId=w1`,
        headers,
      });
      assert.ok([400, 404].includes(response.statusCode), `${name}: ${response.statusCode}`);
    }
    const badEvents = await app.inject({
      method: 'POST',
      url: `${base}/events`,
      headers,
      payload: { workerId: 'w1', events: [{ type: 'state', data: { state: 'succeeded' } }] },
    });
    assert.equal(badEvents.statusCode, 400);
    assert.equal(badEvents.json().error.param, 'events[0]');
    const unsafe = await app.inject({
      method: 'PUT',
      url: `${base}/artifacts/..%2Fescape?workerId=w1`,
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('x'),
    });
    assert.equal(unsafe.statusCode, 400, unsafe.body);
    const uploaded = await app.inject({
      method: 'PUT',
      url: `${base}/artifacts/run/checkpoints/step-0000004/model.safetensors?workerId=w1`,
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('weights'),
    });
    assert.deepEqual(uploaded.json(), { path: 'run/checkpoints/step-0000004/model.safetensors' });
    // A result naming anything but what was uploaded into the job's run folder is refused; the job stays held.
    const handled: string[] = [];
    app.ctx.jobCompletions.pretrain = async ({ job: done }) => {
      handled.push(done.id);
      return {};
    };
    for (const checkpoint of [
      '/etc/passwd',
      join(home, 'jobs', job.id, 'run', 'checkpoints', 'step-0000004'),
      `../${inputs.data}/run/shards`,
      'run/checkpoints/step-0000008',
      'inputs/config/config.json',
    ]) {
      const refused = await app.inject({
        method: 'POST',
        url: `${base}/finish`,
        headers,
        payload: { workerId: 'w1', state: 'succeeded', result: { checkpoint } },
      });
      assert.equal(refused.statusCode, 400, `${checkpoint}: ${refused.body}`);
      assert.equal(refused.json().error.param, 'result.checkpoint');
    }
    assert.deepEqual(handled, []);
    delete app.ctx.jobCompletions.pretrain;
    const finished = await app.inject({
      method: 'POST',
      url: `${base}/finish`,
      headers,
      payload: { workerId: 'w1', state: 'failed', error: 'given up in a test' },
    });
    assert.equal(finished.json().job.state, 'failed');
  });

  test("a fine-tune's worker naming /etc/passwd or another job's files as its adapter registers nothing", async () => {
    const models = async () =>
      (await app.inject({ method: 'GET', url: '/api/models', headers: admin })).json().models as unknown[];
    const before = await models();
    const base = (before[0] as { id: string }).id;
    const created = await app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: admin,
      payload: { type: 'finetune', params: { base, dataset: await oneConversation(app, admin), steps: 1 } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const headers = bearer(workerSecret);
    const claimed = await app.inject({
      method: 'POST',
      url: '/api/worker/claim',
      headers,
      payload: { workerId: 'w3', types: ['finetune'] },
    });
    assert.equal(claimed.json().job.id, created.json().job.id);
    assert.deepEqual(claimed.json().command, [
      'finetune',
      '--config',
      'inputs/config/config.json',
      '--resume',
      '--events',
      '-',
    ]);
    const jobUrl = `/api/worker/jobs/${created.json().job.id}`;
    for (const adapterGguf of [
      '/etc/passwd',
      join(home, 'models', 'tiny.gguf'),
      `../${inputs.tokenizer}/run/tokenizer/tokenizer.json`,
      'run/adapter.gguf',
    ]) {
      const refused = await app.inject({
        method: 'POST',
        url: `${jobUrl}/finish`,
        headers,
        payload: {
          workerId: 'w3',
          state: 'succeeded',
          result: { out: 'run', adapterGguf, report: 'run/report.json' },
        },
      });
      assert.equal(refused.statusCode, 400, `${adapterGguf}: ${refused.body}`);
      assert.match(refused.json().error.param, /^result\.(adapterGguf|report)$/);
    }
    assert.deepEqual(await models(), before, 'nothing registered');
    const failed = await app.inject({
      method: 'POST',
      url: `${jobUrl}/finish`,
      headers,
      payload: { workerId: 'w3', state: 'failed', error: 'given up in a test' },
    });
    assert.equal(failed.json().job.state, 'failed');
  });

  test('`ownlm worker` runs a job end to end and stops a cancelled one', async () => {
    const completed: Record<string, unknown>[] = [];
    app.ctx.jobCompletions.pretrain = async ({ artifacts }) => {
      const { checkpoint } = artifacts;
      completed.push({ checkpoint, stored: existsSync(join(checkpoint!, 'model.safetensors')) });
      return { registered: true };
    };
    const { worker, log } = startWorker(workDir);
    try {
      const job = await createJob({ ...inputs, ...tinyPretrain, steps: 12 });
      const done = await until(job.id, (j) => j.state === 'succeeded' || j.state === 'failed');
      assert.equal(done.state, 'succeeded', `${done.error}\n${log()}`);
      assert.equal(done.result?.registered, true);
      assert.equal(done.result?.checkpoint, 'run/checkpoints/step-0000012');
      const checkpoint = join(home, 'jobs', job.id, 'run', 'checkpoints', 'step-0000012');
      assert.deepEqual(completed, [{ checkpoint, stored: true }]);
      assert.equal(
        sha256(join(checkpoint, 'model.safetensors')),
        sha256(join(workDir, job.id, 'run', 'checkpoints', 'step-0000012', 'model.safetensors')),
      );
      const events = (
        await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/events`, headers: admin })
      ).json().events as JobEventView[];
      assert.equal(events.filter((e) => e.type === 'metrics' && 'loss' in e.data).length, 12);
      assert.equal(done.tokensProcessed, 12 * tinyPretrain.batchSize * tinyPretrain.context);

      const slow = await createJob({ ...inputs, ...slowPretrain });
      await until(slow.id, (_, event) => event?.type === 'checkpoint');
      await app.inject({ method: 'POST', url: `/api/jobs/${slow.id}/cancel`, headers: admin });
      const cancelled = await until(slow.id, (j) => j.state !== 'running');
      assert.equal(cancelled.state, 'cancelled', log());
      assert.ok(Number(cancelled.progress?.step) < 600);
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
    assert.equal(worker.exitCode, 0, log());
  });

  test('a remote worker killed mid-job: another one takes over after the lease and resumes from the uploaded checkpoint', async () => {
    const params = {
      ...inputs,
      ...slowPretrain,
      // Kept, so the first checkpoint is still there to compare with its uploaded copy.
      keepCheckpoints: 100,
    };
    const first = startWorker(join(workDir, 'first'));
    const job = await createJob(params);
    await until(job.id, (_, event) => event?.type === 'checkpoint');
    // Once the first checkpoint is on the server, the first worker and its command die without a word.
    const local = join(workDir, 'first', job.id, 'run', 'checkpoints', 'step-0000010');
    const stored = join(home, 'jobs', job.id, 'run', 'checkpoints', 'step-0000010');
    const files = readdirSync(local).sort();
    while (!existsSync(stored) || readdirSync(stored).sort().join() !== files.join())
      await new Promise((resolve) => setTimeout(resolve, 50));
    const events = (
      await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/events`, headers: admin })
    ).json().events as JobEventView[];
    const pid = Number(
      /pid (\d+)$/.exec(String(events.find((e) => e.data.stream === 'worker')?.data.line))?.[1],
    );
    first.worker.kill('SIGKILL');
    process.kill(pid, 'SIGKILL');

    // The reference: the same command uninterrupted, run here in a job folder of its own.
    const referenceDir = join(workDir, 'reference');
    const roots = layOutJob(referenceDir, job, {
      data: join(home, 'jobs', inputs.data, 'run', 'shards'),
      tokenizer: join(home, 'jobs', inputs.tokenizer, 'run', 'tokenizer'),
    });
    linkJobInputs(referenceDir, roots);
    const reference = runJobCommand(jobArguments(job, roots), {
      cwd: referenceDir,
      onEvents: () => undefined,
    }).done;
    const second = startWorker(join(workDir, 'second'));
    try {
      const done = await until(job.id, (j) => j.state === 'succeeded' || j.state === 'failed');
      assert.equal(done.state, 'succeeded', `${done.error}\n${second.log()}`);
      assert.equal(done.attempts, 2);
      const all = (
        await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/events`, headers: admin })
      ).json().events as JobEventView[];
      const takeover = all.find((e) => e.type === 'state' && e.data.takenOverFrom !== undefined);
      assert.ok(takeover, 'the second worker took the job over from the first');
      const resumedAt = all
        .slice(all.indexOf(takeover))
        .find((e) => e.type === 'progress' && 'steps' in e.data);
      assert.ok(
        Number(resumedAt?.data.step) >= 10,
        `resumed from a checkpoint: ${JSON.stringify(resumedAt?.data)}`,
      );
      const uninterrupted = await reference;
      assert.equal(uninterrupted.code, 0, uninterrupted.error ?? '');
      assert.equal(done.result?.loss, uninterrupted.result.loss);
      assert.equal(
        sha256(join(home, 'jobs', job.id, String(done.result?.checkpoint), 'model.safetensors')),
        sha256(join(referenceDir, String(uninterrupted.result.checkpoint), 'model.safetensors')),
        'the same final weights as the uninterrupted run',
      );
    } finally {
      second.worker.kill('SIGTERM');
      await once(second.worker, 'exit');
    }
  });
});
