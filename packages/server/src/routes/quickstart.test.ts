// The /api/quickstart routes through the whole app with no local worker: the test plays the worker (claims the
// quickstart job, stores its events, ends it), so the routes are exercised without training. The status, a start
// (202; 409 while one runs; again after a failure or a cancel), and the SSE stream of every change.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { appendJobEvents } from '../jobs/events.ts';
import { claimJob, finishJob } from '../jobs/queue.ts';
import type { QuickstartStatus } from '../jobs/quickstart.ts';
import { signUp } from '../testing/users.ts';

const home = mkdtempSync(join(tmpdir(), 'ownlm-quickstart-routes-'));
let app: FastifyInstance;
let base: string;
let ada: Record<string, string>;
let bob: Record<string, string>;

before(async () => {
  app = await buildApp({ home, logLevel: 'warn', jobWorkers: 0 });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  ada = (await signUp(app, 'ada@example.com')).headers;
  bob = (await signUp(app, 'bob@example.com')).headers;
});
after(async () => {
  await app?.close();
  rmSync(home, { recursive: true, force: true });
});

const status = async (headers = ada) =>
  (await app.inject({ method: 'GET', url: '/api/quickstart', headers })).json() as QuickstartStatus;
const start = (payload: object = {}, headers = ada) =>
  app.inject({ method: 'POST', url: '/api/quickstart', headers, payload });

/** Claims the queued quickstart job as a worker would. */
async function claim(): Promise<string> {
  const claimed = await claimJob({ ctx: app.ctx, workerId: 'w', types: ['quickstart'], leaseMs: 60_000 });
  assert.ok(claimed, 'a quickstart job is queued');
  return claimed.job.id;
}

const fail = (jobId: string, error: string) =>
  finishJob({ ctx: app.ctx, jobId, workerId: 'w', state: 'failed', error });

test('every route needs a signed-in user', async () => {
  for (const [method, url] of [
    ['GET', '/api/quickstart'],
    ['POST', '/api/quickstart'],
    ['GET', '/api/quickstart/events'],
  ] as const) {
    const response = await app.inject({ method, url });
    assert.equal(response.statusCode, 401, `${method} ${url}`);
    assert.equal(response.json().error.code, 'unauthorized');
  }
});

test('GET gives the status; POST starts a run (202), refuses a second while it runs (409), starts again after a failure or a cancel', async () => {
  assert.deepEqual(await status(), {
    state: 'idle',
    stage: null,
    step: null,
    steps: null,
    loss: null,
    etaSeconds: null,
    error: null,
    modelId: null,
  });
  const refused = await start({ params: { steps: 'zero' } });
  assert.equal(refused.statusCode, 400);
  assert.equal(refused.json().error.param, 'params.steps');

  const started = await start();
  assert.equal(started.statusCode, 202);
  assert.equal(started.json().state, 'running');
  // The quickstart is the server's: another user sees it running; only an admin starts it, and not twice.
  assert.equal((await status(bob)).state, 'running');
  const notAdmin = await start({}, bob);
  assert.equal(notAdmin.statusCode, 403);
  assert.equal(notAdmin.json().error.code, 'forbidden');
  const again = await start({});
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'conflict');

  await fail(await claim(), 'ownlm quickstart: vocab size must be an integer from 259');
  assert.equal((await status(bob)).state, 'failed');
  assert.match((await status()).error ?? '', /vocab size/);

  assert.equal((await start({}, bob)).statusCode, 403, 'a failed one is restarted by an admin too');
  const restarted = await start({});
  assert.equal(restarted.statusCode, 202);
  const { jobs } = (await app.inject({ method: 'GET', url: '/api/jobs', headers: ada })).json() as {
    jobs: { id: string; type: string }[];
  };
  const cancelled = await app.inject({
    method: 'POST',
    url: `/api/jobs/${jobs[0]!.id}/cancel`,
    headers: ada,
  });
  assert.equal(cancelled.statusCode, 200, cancelled.body);
  const afterCancel = await status();
  assert.equal(afterCancel.state, 'failed');
  assert.equal(afterCancel.error, 'the quickstart was cancelled');
  assert.equal((await start()).statusCode, 202, 'a cancelled quickstart can be started again');
  await fail(await claim(), 'given up in a test');
});

/** Reads `quickstart-progress` events from a response until `until` holds for one. */
function readEvents(
  response: IncomingMessage,
  until: (s: QuickstartStatus) => boolean,
): Promise<QuickstartStatus[]> {
  const events: QuickstartStatus[] = [];
  let buffer = '';
  return new Promise((resolve, reject) => {
    response.setEncoding('utf8');
    response.on('error', reject);
    const onData = (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const match = /^event: quickstart-progress\ndata: (.*)$/.exec(block);
        assert.ok(match, `an SSE event: ${JSON.stringify(block)}`);
        events.push(JSON.parse(match[1]!) as QuickstartStatus);
        if (until(events.at(-1)!)) {
          response.off('data', onData);
          return resolve(events);
        }
      }
    };
    response.on('data', onData);
  });
}

const listeners = () => (app.ctx.jobHub as unknown as { listeners: Set<unknown> }).listeners.size;

test('GET /events streams the status at once and then every change', async () => {
  const before = listeners();
  const response = await new Promise<IncomingMessage>((resolve) =>
    get(`${base}/api/quickstart/events`, { headers: ada }, resolve),
  );
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(response.headers['cache-control'], 'no-cache');
  assert.equal(response.headers['x-accel-buffering'], 'no');
  const first = await readEvents(response, () => true);
  assert.deepEqual(first[0], await status());

  const rest = readEvents(response, (s) => s.state === 'failed');
  assert.equal((await start()).statusCode, 202);
  const jobId = await claim();
  const progress = (data: Record<string, unknown>) =>
    appendJobEvents({ ctx: app.ctx, jobId, events: [{ type: 'progress', data }], tokensPerStep: 0 });
  await progress({ stage: 'train the tiny Llama preset' });
  await progress({ step: 1, steps: 4, loss: 6.25, etaSeconds: 3 });
  await progress({ step: 4, etaSeconds: 0 });
  await fail(jobId, 'the machine ran out of memory');
  const events = await rest;
  assert.deepEqual(
    events.map((s) => [s.state, s.stage, s.step, s.steps, s.loss, s.etaSeconds, s.error]),
    [
      ['running', null, null, null, null, null, null],
      ['running', 'train the tiny Llama preset', null, null, null, null, null],
      ['running', 'train the tiny Llama preset', 1, 4, 6.25, 3, null],
      ['running', 'train the tiny Llama preset', 4, 4, 6.25, null, null],
      ['failed', 'train the tiny Llama preset', 4, 4, 6.25, null, 'the machine ran out of memory'],
    ],
  );
  response.destroy();
  // The closed connection unsubscribes: no listener is left to write to a dead socket.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(listeners(), before);
});

test('closing the server ends the open event streams', async () => {
  const otherHome = mkdtempSync(join(tmpdir(), 'ownlm-quickstart-close-'));
  const other = await buildApp({ home: otherHome, logLevel: 'warn', jobWorkers: 0 });
  try {
    const address = await other.listen({ host: '127.0.0.1', port: 0 });
    const { headers } = await signUp(other, 'ada@example.com');
    const response = await new Promise<IncomingMessage>((resolve) =>
      get(`${address}/api/quickstart/events`, { headers }, resolve),
    );
    await readEvents(response, () => true);
    const ended = new Promise((resolve) => response.on('end', resolve));
    response.resume();
    await other.close();
    await ended;
  } finally {
    rmSync(otherHome, { recursive: true, force: true });
  }
});
