// Who may do what, end to end over HTTP on a loopback port: one user's chats and keys are invisible to another
// (404, as if they did not exist), signed-out requests are 401, the /v1 API refuses missing, wrong and revoked
// keys in OpenAI's shape, and cookie-authenticated writes need this site's Origin and the CSRF token. No model
// is installed, so nothing here generates: a sent message is saved and answered with an `error` event.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../packages/server/src/app.ts';

interface Session {
  cookie: string;
  csrf: string;
}

describe('access control', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-access-'));
  let app: FastifyInstance;
  let url: string;
  let alice: Session;
  let bob: Session;
  let chatId: string;
  let messageId: string;
  let keyId: string;
  let keySecret: string;

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

  async function errorOf(response: Response, status: number, code: string) {
    const text = await response.text();
    assert.equal(response.status, status, text);
    const { error } = JSON.parse(text) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(error.code, code, text);
    return error;
  }

  const chatCount = async (session: Session) =>
    ((await (await as(session, 'GET', '/api/chats')).json()) as { chats: unknown[] }).chats.length;

  before(async () => {
    app = await buildApp({ home, logLevel: 'warn' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    alice = await register('alice@example.com');
    bob = await register('bob@example.com');

    const created = await as(alice, 'POST', '/api/chats', { title: 'Alice only' });
    assert.equal(created.status, 201);
    chatId = ((await created.json()) as { id: string }).id;
    // No model: the question is saved and the answer is an error event.
    const sent = await as(alice, 'POST', `/api/chats/${chatId}/messages`, { content: 'A secret question' });
    const body = await sent.text();
    assert.equal(sent.status, 200, body);
    assert.match(body, /event: message-created\n/);
    assert.match(body, /event: error\ndata: \{"message":"no model yet: run the quickstart"\}/);
    const messageLine = body.split('\n').find((l) => l.startsWith('data: {"message":{'));
    messageId = (JSON.parse(messageLine!.slice(6)) as { message: { id: string } }).message.id;

    const key = await as(alice, 'POST', '/api/keys', { name: 'alice key' });
    assert.equal(key.status, 201);
    const made = (await key.json()) as { key: { id: string }; secret: string };
    keyId = made.key.id;
    keySecret = made.secret;
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test("another user's chat is not found, whatever the route", async () => {
    const path = `/api/chats/${chatId}`;
    for (const [method, route, body] of [
      ['GET', path, undefined],
      ['PATCH', path, { title: 'Bob was here' }],
      ['DELETE', path, undefined],
      ['POST', `${path}/messages`, { content: 'hello' }],
      ['POST', `${path}/regenerate`, {}],
      ['POST', `${path}/messages/${messageId}/edit`, { content: 'changed' }],
      ['GET', `${path}/export?format=markdown`, undefined],
      ['GET', `${path}/export?format=json`, undefined],
    ] as const) {
      const response = await as(bob, method, route, body);
      const error = await errorOf(response, 404, 'not_found');
      const missing = await as(bob, method, route.replace(chatId, 'chat_doesnotexist'), body);
      assert.deepEqual(await errorOf(missing, 404, 'not_found'), error, `${method} ${route} as if missing`);
    }
    assert.equal(await chatCount(bob), 0);
    assert.deepEqual(
      ((await (await as(bob, 'GET', '/api/chats?q=secret')).json()) as { chats: unknown[] }).chats,
      [],
      "search never reaches another user's messages",
    );

    const own = (await (await as(alice, 'GET', `/api/chats/${chatId}`)).json()) as {
      chat: { title: string };
      messages: { id: string; content: string }[];
    };
    assert.equal(own.chat.title, 'Alice only');
    assert.deepEqual(
      own.messages.map((m) => [m.id, m.content]),
      [[messageId, 'A secret question']],
    );
  });

  test("another user's API key cannot be revoked", async () => {
    await errorOf(await as(bob, 'DELETE', `/api/keys/${keyId}`), 404, 'not_found');
    const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${keySecret}` } });
    assert.equal(models.status, 200, 'the key still works');
  });

  test('signed out, the platform API is 401', async () => {
    for (const path of ['/api/chats', '/api/keys', '/api/usage/today', `/api/chats/${chatId}`])
      await errorOf(await as(null, 'GET', path), 401, 'unauthorized');
    await errorOf(await as(null, 'POST', '/api/chats', {}), 401, 'unauthorized');
  });

  test('/v1 refuses a missing, a wrong and a revoked key', async () => {
    const key = (await (await as(alice, 'POST', '/api/keys', { name: 'to revoke' })).json()) as {
      key: { id: string };
      secret: string;
    };
    assert.equal((await as(alice, 'DELETE', `/api/keys/${key.key.id}`)).status, 204);
    const chat = { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] };
    for (const authorization of [null, 'Bearer sk-wrong', `Bearer ${keySecret}x`, `Bearer ${key.secret}`])
      for (const [method, path, body] of [
        ['GET', '/v1/models', undefined],
        ['POST', '/v1/chat/completions', chat],
      ] as const) {
        const response = await fetch(`${url}${path}`, {
          method,
          headers: {
            ...(authorization ? { authorization } : {}),
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        const error = await errorOf(response, 401, 'invalid_api_key');
        assert.equal(error.type, 'authentication_error', `${method} ${path} with ${authorization}`);
      }
  });

  test('cookie writes need this site and the CSRF token, and change nothing otherwise', async () => {
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
