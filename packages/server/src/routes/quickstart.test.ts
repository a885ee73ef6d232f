import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { QuickstartJob, type QuickstartStatus } from '../quickstart/job.ts';
import { quickstartRoutes } from './quickstart.ts';

const home = mkdtempSync(join(tmpdir(), 'ownlm-quickstart-routes-'));
// A run that fails at once (its arguments are refused), so the routes are exercised without training.
const job = new QuickstartJob({
  home,
  extraArgs: ['--steps', 'zero'],
  onModelReady: async () => 'never',
});
let app: FastifyInstance;
let base: string;

before(async () => {
  app = Fastify();
  // What the app's authentication hook and error handler do: an actor from the session, AppError as JSON.
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    request.actor =
      request.headers.cookie === 'session=ok' ? { userId: 'u1', role: 'user', apiKeyId: null } : null;
  });
  app.setErrorHandler((error, _request, reply) =>
    error instanceof AppError ? reply.code(error.status).send(error.toOpenAI()) : reply.send(error),
  );
  app.register(quickstartRoutes(job), { prefix: '/api/quickstart' });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await job.cancel();
  await app.close();
  rmSync(home, { recursive: true, force: true });
});

const signedIn = { cookie: 'session=ok' };

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

test('GET gives the status; POST starts a run (202) and refuses a second while it runs (409)', async () => {
  const status = await app.inject({ method: 'GET', url: '/api/quickstart', headers: signedIn });
  assert.equal(status.statusCode, 200);
  assert.equal(status.json().state, 'idle');
  const ended = new Promise<void>((resolve) => {
    const unsubscribe = job.subscribe((s) => {
      if (s.state !== 'running') {
        unsubscribe();
        resolve();
      }
    });
  });
  const started = await app.inject({ method: 'POST', url: '/api/quickstart', headers: signedIn });
  assert.equal(started.statusCode, 202);
  assert.equal(started.json().state, 'running');
  const again = await app.inject({ method: 'POST', url: '/api/quickstart', headers: signedIn });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'conflict');
  await ended;
  const failed = await app.inject({ method: 'GET', url: '/api/quickstart', headers: signedIn });
  assert.equal(failed.json().state, 'failed');
  assert.match(failed.json().error, /--steps/);
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
    response.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const match = /^event: quickstart-progress\ndata: (.*)$/.exec(block);
        assert.ok(match, `an SSE event: ${JSON.stringify(block)}`);
        events.push(JSON.parse(match[1]) as QuickstartStatus);
        if (until(events.at(-1)!)) return resolve(events);
      }
    });
  });
}

test('GET /events streams the status at once and then every change', async () => {
  const response = await new Promise<IncomingMessage>((resolve) =>
    get(`${base}/api/quickstart/events`, { headers: signedIn }, resolve),
  );
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/event-stream');
  assert.equal(response.headers['cache-control'], 'no-cache');
  assert.equal(response.headers['x-accel-buffering'], 'no');
  const first = await readEvents(response, () => true);
  assert.equal(first[0].state, job.status().state);
  const rest = readEvents(response, (s) => s.state === 'failed');
  job.start();
  const events = await rest;
  assert.equal(events[0].state, 'running');
  assert.match(events.at(-1)!.error ?? '', /--steps/);
  response.destroy();
  // The closed connection unsubscribes: a further run has no listener left to write to a dead socket.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((job as unknown as { listeners: Set<unknown> }).listeners.size, 0);
});

test('closing the server ends the open event streams', async () => {
  const other = Fastify();
  other.decorateRequest('actor', null);
  other.addHook('onRequest', async (request) => {
    request.actor = { userId: 'u1', role: 'user', apiKeyId: null };
  });
  other.register(quickstartRoutes(job), { prefix: '/api/quickstart' });
  const address = await other.listen({ host: '127.0.0.1', port: 0 });
  const response = await new Promise<IncomingMessage>((resolve) =>
    get(`${address}/api/quickstart/events`, resolve),
  );
  await readEvents(response, () => true);
  const ended = new Promise((resolve) => response.on('end', resolve));
  response.resume();
  await other.close();
  await ended;
});
