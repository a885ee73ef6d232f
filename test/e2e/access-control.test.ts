// Who may do what, end to end over HTTP on a loopback port. The matrix is generated from the server's own route
// table (`app.routeAccess`, every route with the policy it declared where it was registered): each route is
// called as anonymous, a user, another user, an admin, a worker token, a revoked API key and a live key of each
// scope, and must refuse
// every caller its policy excludes; every route that takes an object id must give another user's object the
// same 404 as a missing one, while its owner reads it. A new route is covered without anyone writing a test.
// Then what the matrix cannot show: search never crosses users, and cookie writes need this site and the CSRF
// token. No model is installed and no job worker runs, so nothing here generates or trains.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../packages/server/src/app.ts';
import type { Access, RouteAccess } from '../../packages/server/src/auth/access.ts';

interface Session {
  cookie: string;
  csrf: string;
}

type Caller =
  | 'anonymous'
  | 'user'
  | 'other user'
  | 'admin'
  | 'worker token'
  | 'revoked key'
  | 'inference key'
  | 'platform key';
const CALLERS: readonly Caller[] = [
  'anonymous',
  'user',
  'other user',
  'admin',
  'worker token',
  'revoked key',
  'inference key',
  'platform key',
];

/** Who each policy lets in; everyone else is refused before the handler runs. The keys are the user's. */
const ALLOWED: Record<Access, readonly Caller[]> = {
  anonymous: CALLERS,
  inference: ['user', 'other user', 'admin', 'inference key'],
  user: ['user', 'other user', 'admin', 'platform key'],
  admin: ['admin'],
  worker: ['worker token'],
};

/** Routes anyone may call. A route that declares `anonymous` and is not listed here fails the test. */
const ANONYMOUS_ROUTES = new Set([
  'GET /api/session',
  'POST /api/auth/register',
  'POST /api/auth/login',
  'POST /api/auth/logout',
]);

/**
 * Path parameters filled with a name that does not exist, not with an object of the user's: a user's models and
 * reports are made only by a finished fine-tune (registry/models.test.ts and jobs/finetune-outputs.test.ts check
 * that another user gets the not-found of a missing one), aliases and worker tokens are an admin's, and a
 * worker's job must be held by that worker.
 */
const UNOWNED_PARAMS = new Set(['model', 'alias', 'file', '*']);

describe('access control', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-access-'));
  let app: FastifyInstance;
  let url: string;
  let admin: Session;
  let alice: Session;
  let bob: Session;
  let chatId: string;
  /** Alice's objects by the path segment that precedes their id in a route (`/api/chats/:id` → chats). */
  const owned: Record<string, string> = {};
  const bearer: Partial<Record<Caller, string>> = {};

  async function register(email: string): Promise<Session> {
    const response = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'a long enough password', name: email.split('@')[0] }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const cookie = response.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('ownlm_session='));
    assert.ok(cookie, 'registering signs in');
    return { cookie, csrf: ((await response.json()) as { csrfToken: string }).csrfToken };
  }

  /** A request as the web app makes it: the session cookie, the CSRF token, a JSON body. */
  function as(session: Session | null, method: string, path: string, body?: unknown, extra = {}) {
    return fetch(`${url}${path}`, {
      method,
      headers: {
        ...(session ? { cookie: session.cookie, 'x-csrf-token': session.csrf } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...extra,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** A request by one of the matrix's callers, with no body: refusals come before any body is read. */
  function call(caller: Caller, method: string, path: string, signal?: AbortSignal) {
    const sessions: Partial<Record<Caller, Session>> = { user: alice, 'other user': bob, admin };
    const session = sessions[caller] ?? null;
    const token = bearer[caller];
    return fetch(`${url}${path}`, {
      method,
      signal,
      headers: {
        ...(session ? { cookie: session.cookie, 'x-csrf-token': session.csrf } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
  }

  async function errorOf(response: Response, status: number, code: string, what = '') {
    const text = await response.text();
    assert.equal(response.status, status, `${what}: ${text}`);
    const { error } = JSON.parse(text) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(error.code, code, `${what}: ${text}`);
    return error;
  }

  async function created<T>(response: Response): Promise<T> {
    const text = await response.text();
    assert.equal(response.status, 201, text);
    return JSON.parse(text) as T;
  }

  /** The route's path with each parameter filled by `fill(name, segment before it)`. */
  const pathOf = (route: string, fill: (param: string, segment: string) => string) =>
    route
      .split('/')
      .map((part, i, parts) =>
        part === '*'
          ? fill('*', parts[i - 1]!)
          : part.startsWith(':')
            ? fill(part.slice(1), parts[i - 1]!)
            : part,
      )
      .join('/');

  const idParams = (route: RouteAccess) =>
    route.url.split('/').filter((part) => part.startsWith(':') && !UNOWNED_PARAMS.has(part.slice(1)));

  before(async () => {
    app = await buildApp({ home, logLevel: 'warn', jobWorkers: 0 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    admin = await register('admin@example.com');
    alice = await register('alice@example.com');
    bob = await register('bob@example.com');

    const chat = await created<{ id: string }>(
      await as(alice, 'POST', '/api/chats', { title: 'Alice only' }),
    );
    chatId = owned.chats = chat.id;
    // No model: the question is saved and the answer is an error event.
    const sent = await as(alice, 'POST', `/api/chats/${chatId}/messages`, { content: 'A secret question' });
    const body = await sent.text();
    assert.equal(sent.status, 200, body);
    assert.match(body, /event: error\ndata: \{"message":"no model yet: run the quickstart"\}/);
    const messageLine = body.split('\n').find((l) => l.startsWith('data: {"message":{'));
    owned.messages = (JSON.parse(messageLine!.slice(6)) as { message: { id: string } }).message.id;

    owned.keys = (await created<{ key: { id: string } }>(await as(alice, 'POST', '/api/keys', {}))).key.id;
    for (const [caller, scope] of [
      ['inference key', 'inference'],
      ['platform key', 'platform'],
    ] as const) {
      const key = await as(alice, 'POST', '/api/keys', { name: scope, scopes: [scope] });
      bearer[caller] = (await created<{ secret: string }>(key)).secret;
    }
    const revoked = await created<{ key: { id: string }; secret: string }>(
      await as(alice, 'POST', '/api/keys', { name: 'to revoke' }),
    );
    assert.equal((await as(alice, 'DELETE', `/api/keys/${revoked.key.id}`)).status, 204);
    bearer['revoked key'] = revoked.secret;
    bearer['worker token'] = (
      await created<{ secret: string }>(await as(admin, 'POST', '/api/worker-tokens', { name: 'w' }))
    ).secret;

    const upload = await fetch(`${url}/api/datasets?name=alice`, {
      method: 'POST',
      headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf, 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
      })}\n`,
    });
    owned.datasets = (await created<{ dataset: { id: string } }>(upload)).dataset.id;
    const job = await as(alice, 'POST', '/api/jobs', {
      type: 'data-prepare',
      params: { dataset: owned.datasets },
    });
    owned.jobs = (await created<{ job: { id: string } }>(job)).job.id;
    const hook = await as(alice, 'POST', '/api/webhooks', { url: 'http://hooks.invalid/ownlm' });
    owned.webhooks = (await created<{ webhook: { id: string } }>(hook)).webhook.id;
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('the route table is complete: every API route declared a policy, anonymous ones are known', () => {
    const routes = app.routeAccess.map((r) => `${r.method} ${r.url}`);
    assert.ok(routes.length >= 40, `the table lists the app's routes (${routes.length})`);
    assert.equal(new Set(routes).size, routes.length, 'each route once');
    for (const route of app.routeAccess)
      if (route.access === 'anonymous')
        assert.ok(
          ANONYMOUS_ROUTES.has(`${route.method} ${route.url}`),
          `${route.method} ${route.url} is public`,
        );
  });

  test('a route without an access policy cannot be registered', async () => {
    const { requireAccessDeclarations } = await import('../../packages/server/src/auth/access.ts');
    const { default: Fastify } = await import('fastify');
    const bare = Fastify();
    bare.register(async (scope) => {
      requireAccessDeclarations(scope, []);
      scope.get('/undeclared', async () => 'open');
    });
    await assert.rejects(async () => {
      await bare.ready();
    }, /GET \/undeclared declares no access policy/);
    await bare.close();
  });

  test('every route refuses every caller its policy excludes', async () => {
    for (const route of app.routeAccess) {
      const path = pathOf(route.url, (param, segment) =>
        UNOWNED_PARAMS.has(param) ? 'nothing' : (owned[segment] ?? 'nothing'),
      );
      for (const caller of CALLERS) {
        if (ALLOWED[route.access].includes(caller)) continue;
        const what = `${route.method} ${route.url} (${route.access}) as ${caller}`;
        const response = await call(caller, route.method, path);
        const v1 = route.url.startsWith('/v1/');
        if (caller === 'revoked key') await errorOf(response, 401, 'invalid_api_key', what);
        else if (route.access === 'worker' || caller === 'anonymous' || caller === 'worker token')
          await errorOf(response, 401, v1 ? 'invalid_api_key' : 'unauthorized', what);
        // Signed in, or a live key: known, but not allowed here.
        else await errorOf(response, 403, 'forbidden', what);
      }
    }
  });

  test("every id-taking route gives another user's object the 404 of a missing one; its owner reads it", async () => {
    let checked = 0;
    for (const route of app.routeAccess) {
      const params = idParams(route);
      if (params.length === 0 || !ALLOWED[route.access].includes('other user')) continue;
      const ownPath = pathOf(route.url, (param, segment) => {
        if (UNOWNED_PARAMS.has(param)) return 'nothing';
        const id = owned[segment];
        assert.ok(
          id,
          `${route.method} ${route.url}: add an object of kind '${segment}' to this test's fixtures`,
        );
        return id;
      });
      const missingPath = pathOf(route.url, (param) =>
        UNOWNED_PARAMS.has(param) ? 'nothing' : 'doesnotexist',
      );
      const what = `${route.method} ${route.url} as another user`;
      const error = await errorOf(await call('other user', route.method, ownPath), 404, 'not_found', what);
      const missing = await errorOf(
        await call('other user', route.method, missingPath),
        404,
        'not_found',
        what,
      );
      // Messages may name the id asked for; with it blanked out, the two answers are the same.
      const blank = (e: Record<string, unknown>) => {
        let message = String(e.message);
        for (const id of [...Object.values(owned), 'doesnotexist']) message = message.replaceAll(id, '<id>');
        return { ...e, message };
      };
      assert.deepEqual(blank(error), blank(missing), `${what}: as for a missing id`);
      if (route.method === 'GET') {
        // Streams stay open; their status line is enough.
        const stop = new AbortController();
        const own = await call('user', route.method, ownPath, stop.signal);
        assert.equal(own.status, 200, `${route.method} ${route.url} as its owner`);
        stop.abort();
      }
      checked += 1;
    }
    assert.ok(checked >= 12, `id-taking routes checked: ${checked}`);
    assert.equal(
      (await as(alice, 'GET', `/api/chats/${chatId}`)).status,
      200,
      "nothing of Alice's was deleted",
    );
  });

  test('an API key opens what its scopes say, and only an admin may ask for the admin scope', async () => {
    const ok = async (caller: Caller, path: string) =>
      assert.equal((await call(caller, 'GET', path)).status, 200, `${caller} GET ${path}`);
    await ok('inference key', '/v1/models');
    await ok('platform key', '/api/chats');
    const keys = (await (await as(alice, 'GET', '/api/keys')).json()) as { keys: { scopes: string[] }[] };
    assert.deepEqual(keys.keys.map((k) => k.scopes).sort(), [['inference'], ['inference'], ['platform']]);
    const refused = await as(alice, 'POST', '/api/keys', {
      name: 'too much',
      scopes: ['inference', 'admin'],
    });
    await errorOf(refused, 403, 'forbidden');
    await errorOf(await as(alice, 'POST', '/api/keys', { scopes: ['everything'] }), 400, 'invalid_request');
    const adminKey = await as(admin, 'POST', '/api/keys', { name: 'ops', scopes: ['platform', 'admin'] });
    const secret = (await created<{ secret: string }>(adminKey)).secret;
    const tokens = await fetch(`${url}/api/worker-tokens`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(tokens.status, 200, 'an admin key with the admin scope opens admin routes');
  });

  test("search never reaches another user's messages", async () => {
    const found = (await (await as(bob, 'GET', '/api/chats?q=secret')).json()) as { chats: unknown[] };
    assert.deepEqual(found.chats, []);
    const own = (await (await as(alice, 'GET', '/api/chats?q=secret')).json()) as { chats: { id: string }[] };
    assert.deepEqual(
      own.chats.map((c) => c.id),
      [chatId],
    );
  });

  test('cookie writes need this site and the CSRF token, and change nothing otherwise', async () => {
    const chatCount = async (session: Session) =>
      ((await (await as(session, 'GET', '/api/chats')).json()) as { chats: unknown[] }).chats.length;
    const before = await chatCount(alice);
    const crossSite = await as(
      alice,
      'POST',
      '/api/chats',
      { title: 'forged' },
      { origin: 'https://evil.example' },
    );
    await errorOf(crossSite, 403, 'csrf_failed');
    const noToken = await fetch(`${url}/api/chats`, {
      method: 'POST',
      headers: { cookie: alice.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'forged' }),
    });
    await errorOf(noToken, 403, 'csrf_failed');
    const wrongToken = await as({ ...alice, csrf: bob.csrf }, 'POST', '/api/chats', { title: 'forged' });
    await errorOf(wrongToken, 403, 'csrf_failed');
    const deleteCrossSite = await as(alice, 'DELETE', `/api/chats/${chatId}`, undefined, {
      origin: 'https://evil.example',
    });
    await errorOf(deleteCrossSite, 403, 'csrf_failed');
    assert.equal(await chatCount(alice), before, 'nothing was created or deleted');
    const sameSite = await as(alice, 'POST', '/api/chats', { title: 'real' }, { origin: url });
    assert.equal(sameSite.status, 201, 'this site as Origin is accepted');
  });
});
