// Webhooks and notifications through the whole app in-process, delivering to real HTTP receivers on loopback:
// every job state change arrives signed (the signature checked here with node:crypto, independently of the
// server's code), failing receivers get retries with backoff (milliseconds here), the log is listed by the
// route, and an ended job leaves a notification. Job changes are announced on the job hub as the job manager
// does; the manager's own path to the hub is exercised end to end in test/e2e/finetune.test.ts. Receivers are on
// loopback, so the apps here allow 127.0.0.1 explicitly (--outbound-allow); without that, loopback is refused.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { openPglite } from '../db/database.ts';
import { users as userRows, webhookDeliveries, webhooks, type JobState } from '../db/schema.ts';
import { eventView } from '../jobs/events.ts';
import type { JobView } from '../jobs/view.ts';
import { Outbound } from '../outbound/outbound.ts';
import { signUp, type SignedUp } from '../testing/users.ts';
import { WebhookDispatcher } from '../webhooks/delivery.ts';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Delivery {
  state: string;
  attempts: number;
  responseStatus: number | null;
  lastError: string | null;
}

/** What every receiver answers: a delivery log must never show it. */
const RECEIVER_ANSWER = 'internal page of the receiver';

/** A loopback receiver answering each request with the next status of `statuses` (the last one repeats). */
async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = statuses[Math.min(received.length, statuses.length) - 1]!;
      response.end(RECEIVER_ANSWER);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

/** Checks the STUDIO-API.md signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>. */
function verify(secret: string, delivery: Received): boolean {
  const timestamp = String(delivery.headers['ownlm-webhook-timestamp']);
  const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex')}`;
  const given = String(delivery.headers['ownlm-webhook-signature']);
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Announces a job change on the app's hub exactly as the job manager does after committing it. */
function announce(
  app: FastifyInstance,
  userId: string,
  jobId: string,
  state: JobState,
  previous: JobState,
  error: string | null = null,
) {
  const now = new Date();
  const job: JobView = {
    id: jobId,
    userId,
    type: 'finetune',
    name: 'support-lora',
    state,
    params: { rank: 8 },
    result: state === 'succeeded' ? { adapterVersionId: 'mv_x' } : null,
    error,
    progress: null,
    attempts: 1,
    workerId: null,
    cancelRequested: false,
    wallSeconds: 75,
    hourlyRate: 0,
    cost: 0,
    tokensProcessed: 1000,
    createdAt: now,
    startedAt: now,
    finishedAt: state === 'running' || state === 'queued' ? null : now,
  };
  const event = eventView({
    id: ++announced,
    jobId,
    type: 'state',
    data: { state, previous },
    createdAt: now,
  });
  app.ctx.jobHub.publish({ kind: 'state', job, previous, event });
}
let announced = 0;

describe('webhooks and notifications', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-webhooks-'));
  const servers: Server[] = [];
  let app: FastifyInstance;
  const users: SignedUp[] = [];

  async function call(who: number, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
    return app.inject({ method, url, headers: users[who]!.headers, ...(payload ? { payload } : {}) });
  }

  before(async () => {
    app = await buildApp({
      home,
      logLevel: 'silent',
      webhookBackoffMs: 10,
      webhookAttempts: 3,
      outboundAllow: ['127.0.0.1'],
    });
    for (const email of ['ada@example.com', 'bob@example.com']) users.push(await signUp(app, email));
  });
  after(async () => {
    await app?.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(home, { recursive: true, force: true });
  });

  test('create validates the url and events, naming the field; the secret is shown once', async () => {
    for (const [payload, param] of [
      [{}, 'url'],
      [{ url: 'ftp://example.com/hook' }, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ url: 'https://user:pw@example.com/' }, 'url'],
      [{ url: 'https://example.com/', events: 'job.failed' }, 'events'],
      [{ url: 'https://example.com/', events: ['job.failed', 'job.exploded'] }, 'events[1]'],
    ] as const) {
      const refused = await call(0, 'POST', '/api/webhooks', payload);
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal((refused.json() as { error: { param: string } }).error.param, param);
    }
    // A host that is non-public whatever DNS says is refused at once; only 127.0.0.1 is allowed here.
    for (const [url, kind] of [
      ['http://127.0.0.2:8080/hook', 'loopback'],
      ['http://2130706434/hook', 'loopback'],
      ['http://[::1]/hook', 'loopback'],
      ['http://[::ffff:10.0.0.1]/hook', 'private'],
      ['http://169.254.169.254/latest/meta-data/', 'cloud metadata'],
      ['http://192.168.1.1/hook', 'private'],
      ['http://localhost:8080/hook', 'loopback'],
      ['http://metadata.google.internal/', 'cloud metadata'],
    ] as const) {
      const refused = await call(0, 'POST', '/api/webhooks', { url });
      assert.equal(refused.statusCode, 400, refused.body);
      const { error } = refused.json() as { error: { code: string; param: string; message: string } };
      assert.deepEqual([error.code, error.param], ['outbound_refused', 'url'], url);
      assert.match(error.message, new RegExp(`non-public address \\(${kind}\\).*--outbound-allow`), url);
    }
    const created = await call(0, 'POST', '/api/webhooks', {
      url: 'https://example.com/a',
      events: ['job.failed'],
    });
    assert.equal(created.statusCode, 201, created.body);
    const { webhook, secret } = created.json() as {
      webhook: { id: string; events: string[] };
      secret: string;
    };
    assert.match(secret, /^whsec_/);
    assert.deepEqual(webhook.events, ['job.failed']);
    const listed = (await call(0, 'GET', '/api/webhooks')).json() as { webhooks: Record<string, unknown>[] };
    assert.deepEqual(
      listed.webhooks.map((w) => w.id),
      [webhook.id],
    );
    assert.ok(!JSON.stringify(listed).includes(secret), 'the list never shows the secret');
    // Another user's webhook is a 404, as a missing one.
    assert.equal((await call(1, 'GET', `/api/webhooks/${webhook.id}/deliveries`)).statusCode, 404);
    assert.equal((await call(1, 'DELETE', `/api/webhooks/${webhook.id}`)).statusCode, 404);
    assert.equal((await call(0, 'DELETE', `/api/webhooks/${webhook.id}`)).statusCode, 204);
    assert.equal((await call(0, 'GET', `/api/webhooks/${webhook.id}/deliveries`)).statusCode, 404);
  });

  test('every job event arrives with a valid signature; a receiver answering 500 twice gets retries', async () => {
    const good = await receiver([200]);
    const flaky = await receiver([500, 500, 200]);
    servers.push(good.server, flaky.server);
    const all = (await call(0, 'POST', '/api/webhooks', { url: good.url })).json() as {
      webhook: { id: string };
      secret: string;
    };
    const onlyEnded = (
      await call(0, 'POST', '/api/webhooks', { url: flaky.url, events: ['job.succeeded'] })
    ).json() as {
      webhook: { id: string };
      secret: string;
    };
    const bobs = await receiver([200]);
    servers.push(bobs.server);
    await call(1, 'POST', '/api/webhooks', { url: bobs.url });

    announce(app, users[0]!.userId, 'job_1', 'queued', 'queued');
    announce(app, users[0]!.userId, 'job_1', 'running', 'queued');
    announce(app, users[0]!.userId, 'job_1', 'succeeded', 'running');
    const states = ['job.queued', 'job.started', 'job.succeeded'];
    await until('three deliveries', async () => good.received.length >= 3);
    const bodies = good.received.map(
      (r) => JSON.parse(r.body) as { id: string; event: string; data: { job: JobView } },
    );
    assert.deepEqual(
      bodies.map((b) => b.event),
      states,
    );
    for (const [index, delivery] of good.received.entries()) {
      assert.ok(verify(all.secret, delivery), `delivery ${index} is signed with the webhook's secret`);
      assert.ok(!verify(onlyEnded.secret, delivery), 'and not with another one');
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.equal(delivery.headers['ownlm-webhook-id'], bodies[index]!.id);
      const age = Date.now() / 1000 - Number(delivery.headers['ownlm-webhook-timestamp']);
      assert.ok(age >= 0 && age < 300, 'the timestamp is the sending time in unix seconds');
      assert.equal(bodies[index]!.data.job.id, 'job_1');
      assert.equal((bodies[index]!.data.job as { userId?: string }).userId, undefined, 'no internal user id');
    }
    assert.equal(bodies[2]!.data.job.state, 'succeeded');

    await until('the flaky receiver to answer 200', async () => flaky.received.length >= 3);
    assert.equal(flaky.received.length, 3, 'only job.succeeded was subscribed');
    assert.ok(flaky.received.every((r) => verify(onlyEnded.secret, r)));
    assert.equal(
      new Set(flaky.received.map((r) => r.headers['ownlm-webhook-id'])).size,
      1,
      'one id over retries',
    );
    const log = await until('the delivery to succeed', async () => {
      const listed = (await call(0, 'GET', `/api/webhooks/${onlyEnded.webhook.id}/deliveries`)).json() as {
        deliveries: {
          event: string;
          state: string;
          attempts: number;
          responseStatus: number;
          lastError: string | null;
        }[];
      };
      return listed.deliveries[0]?.state === 'succeeded' && listed.deliveries;
    });
    assert.equal(log.length, 1);
    assert.equal(log[0]!.event, 'job.succeeded');
    assert.equal(log[0]!.attempts, 3);
    assert.equal(log[0]!.responseStatus, 200);
    assert.equal(log[0]!.lastError, null);
    assert.equal(bobs.received.length, 0, "another user's endpoint hears nothing of this job");
  });

  test('a receiver that always fails ends failed after the attempt limit, its answer never logged; a closed port too', async () => {
    const broken = await receiver([503]);
    servers.push(broken.server);
    const hook = (
      await call(1, 'POST', '/api/webhooks', { url: broken.url, events: ['job.failed'] })
    ).json() as {
      webhook: { id: string };
    };
    const closed = await receiver([200]);
    await new Promise((resolve) => closed.server.close(resolve));
    const gone = (
      await call(1, 'POST', '/api/webhooks', { url: closed.url, events: ['job.failed'] })
    ).json() as {
      webhook: { id: string };
    };
    announce(app, users[1]!.userId, 'job_2', 'failed', 'running', 'out of memory');
    for (const [id, status, error] of [
      [hook.webhook.id, 503, /^HTTP 503$/],
      // The reason is the host and a generic cause, not the socket's errno (no port-scanning oracle beyond it).
      [gone.webhook.id, null, /^could not reach 127\.0\.0\.1; /],
    ] as const) {
      const [delivery] = await until(`delivery ${id} to fail`, async () => {
        const listed = await call(1, 'GET', `/api/webhooks/${id}/deliveries`);
        assert.ok(!listed.body.includes(RECEIVER_ANSWER), 'the log never shows what the receiver answered');
        const { deliveries } = listed.json() as { deliveries: Delivery[] };
        return deliveries[0]?.state === 'failed' && deliveries;
      });
      assert.equal(delivery!.attempts, 3);
      assert.equal(delivery!.responseStatus, status);
      assert.match(delivery!.lastError!, error);
      assert.ok(!/ECONNREFUSED/.test(delivery!.lastError!));
    }
    assert.equal(broken.received.length, 3);
  });

  test('an ended job leaves a notification naming it and its outcome; read one or all', async () => {
    const listed = await until('notifications', async () => {
      const body = (await call(0, 'GET', '/api/notifications')).json() as {
        notifications: { id: number; jobId: string; title: string; body: string; readAt: string | null }[];
        unread: number;
      };
      return body.notifications.length > 0 && body;
    });
    assert.equal(listed.unread, 1, 'queued and running leave none');
    const [note] = listed.notifications;
    assert.equal(note!.jobId, 'job_1');
    assert.match(note!.title, /support-lora.*succeeded/);
    assert.match(note!.body, /job_1 finished in 1\.3 min/);

    const bobs = (await call(1, 'GET', '/api/notifications')).json() as {
      notifications: { id: number; title: string; body: string }[];
    };
    assert.match(bobs.notifications[0]!.title, /failed/);
    assert.match(bobs.notifications[0]!.body, /out of memory/);
    // Bob cannot mark Ada's as read.
    assert.deepEqual((await call(1, 'POST', '/api/notifications/read', { ids: [note!.id] })).json(), {
      unread: 1,
    });
    assert.equal(((await call(0, 'GET', '/api/notifications')).json() as { unread: number }).unread, 1);
    const refused = await call(0, 'POST', '/api/notifications/read', { ids: ['x'] });
    assert.equal(refused.statusCode, 400);
    assert.equal((refused.json() as { error: { param: string } }).error.param, 'ids');
    assert.deepEqual((await call(0, 'POST', '/api/notifications/read', { ids: [note!.id] })).json(), {
      unread: 0,
    });
    assert.deepEqual((await call(1, 'POST', '/api/notifications/read', {})).json(), { unread: 0 });
  });
});

test('a delivery pending when the server stops is sent by the next server on the same data folder', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-webhooks-restart-'));
  const flaky = await receiver([500, 200]);
  try {
    const options = {
      home,
      logLevel: 'silent' as const,
      webhookBackoffMs: 300,
      webhookAttempts: 3,
      outboundAllow: ['127.0.0.1'],
    };
    let app = await buildApp(options);
    const { userId, headers } = await signUp(app, 'ada@example.com');
    const created = await app.inject({
      method: 'POST',
      url: '/api/webhooks',
      headers,
      payload: { url: flaky.url },
    });
    const { webhook } = created.json() as { webhook: { id: string } };
    announce(app, userId, 'job_r', 'failed', 'running', 'boom');
    await until('the first attempt', async () => flaky.received.length >= 1);
    await app.close();
    app = await buildApp(options);
    try {
      const [delivery] = await until('the retry from the new server', async () => {
        const listed = (
          await app.inject({ method: 'GET', url: `/api/webhooks/${webhook.id}/deliveries`, headers })
        ).json() as { deliveries: { state: string; attempts: number }[] };
        return listed.deliveries[0]?.state === 'succeeded' && listed.deliveries;
      });
      assert.equal(delivery!.attempts, 2);
      assert.equal(flaky.received.length, 2);
    } finally {
      await app.close();
    }
  } finally {
    await new Promise((resolve) => flaky.server.close(resolve));
    rmSync(home, { recursive: true, force: true });
  }
});

test('two servers on one database send each delivery once', async () => {
  const handle = await openPglite('memory://');
  const target = await receiver([200]);
  const log = { warn: () => {}, error: (message: string) => assert.fail(message) };
  const outbound = new Outbound({ allow: ['127.0.0.1'] });
  const dispatcher = () =>
    new WebhookDispatcher({ db: handle.db, outbound, backoffMs: 10, attempts: 3, log });
  const senders = [dispatcher(), dispatcher()];
  try {
    await handle.db
      .insert(userRows)
      .values({ id: 'usr_a', email: 'a@example.com', name: 'A', passwordHash: 'x', role: 'member' });
    await handle.db
      .insert(webhooks)
      .values({ id: 'wh_1', userId: 'usr_a', url: target.url, secret: 'whsec_test', events: [] });
    // Deliveries queued by a server that has stopped sending, then both servers start on the same table at once.
    const writer = dispatcher();
    await writer.stop();
    const states: JobState[] = ['queued', 'running', 'succeeded'];
    for (let i = 0; i < 12; i++)
      await writer.enqueueJobState({ id: `job_${i}`, userId: 'usr_a', state: states[i % 3]! } as JobView);
    for (const sender of senders) sender.start();
    await until('12 deliveries', async () => {
      const sent = await handle.db.select().from(webhookDeliveries);
      return sent.length === 12 && sent.every((d) => d.state === 'succeeded');
    });
    assert.equal(target.received.length, 12);
    assert.equal(new Set(target.received.map((r) => r.headers['ownlm-webhook-id'])).size, 12);
  } finally {
    await Promise.all(senders.map((d) => d.stop()));
    await new Promise((resolve) => target.server.close(resolve));
    await handle.close();
  }
});

test('each delivery checks the address again: loopback, by address or by a name resolving to it, is refused before connecting unless allowed', async () => {
  const handle = await openPglite('memory://');
  const target = await receiver([200]);
  const port = new URL(target.url).port;
  // Endpoints stored before the creation check existed, or whose name resolved elsewhere when they were made.
  const urls = [target.url, `http://hook.invalid:${port}/hook`];
  const resolved: string[] = [];
  const outbound = (allow: string[]) =>
    new Outbound({
      allow,
      resolve: async (host) => {
        resolved.push(host);
        return host === 'hook.invalid' ? ['127.0.0.1'] : [];
      },
    });
  const log = { warn: () => {}, error: (message: string) => assert.fail(message) };
  try {
    await handle.db
      .insert(userRows)
      .values({ id: 'usr_a', email: 'a@example.com', name: 'A', passwordHash: 'x', role: 'member' });
    for (const [index, url] of urls.entries())
      await handle.db
        .insert(webhooks)
        .values({ id: `wh_${index}`, userId: 'usr_a', url, secret: 'whsec_test', events: [] });
    const deliveries = async () =>
      (await handle.db.select().from(webhookDeliveries)).sort((a, b) =>
        a.webhookId.localeCompare(b.webhookId),
      );

    const refusing = new WebhookDispatcher({
      db: handle.db,
      outbound: outbound([]),
      backoffMs: 5,
      attempts: 2,
      log,
    });
    refusing.start();
    await refusing.enqueueJobState({ id: 'job_1', userId: 'usr_a', state: 'failed' } as JobView);
    await until('both deliveries to fail', async () => {
      const rows = await deliveries();
      return rows.length === 2 && rows.every((d) => d.state === 'failed');
    });
    await refusing.stop();
    assert.deepEqual(
      (await deliveries()).map((d) => [d.attempts, d.responseStatus, d.lastError!.split(';')[0]]),
      [
        [2, null, '127.0.0.1 is a non-public address (loopback)'],
        [2, null, "host 'hook.invalid' resolves to a non-public address (loopback)"],
      ],
    );
    assert.equal(target.received.length, 0, 'nothing reached the receiver');
    assert.deepEqual(
      resolved,
      ['hook.invalid', 'hook.invalid'],
      'the name is resolved again at each attempt',
    );

    const allowed = new WebhookDispatcher({
      db: handle.db,
      outbound: outbound(['127.0.0.1']),
      backoffMs: 5,
      attempts: 2,
      log,
    });
    allowed.start();
    await allowed.enqueueJobState({ id: 'job_2', userId: 'usr_a', state: 'failed' } as JobView);
    await until('both deliveries to arrive', async () => target.received.length === 2);
    await allowed.stop();
    assert.deepEqual(target.received.map((r) => r.headers.host).sort(), [
      `127.0.0.1:${port}`,
      `hook.invalid:${port}`,
    ]);
  } finally {
    await new Promise((resolve) => target.server.close(resolve));
    await handle.close();
  }
});
