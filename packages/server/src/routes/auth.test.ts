// Accounts through the app: the session cookie's flags (Secure only over HTTPS, which behind a TLS-terminating
// proxy the server learns from X-Forwarded-Proto when it trusts the proxy, and never from a client it does not
// trust), a password change that checks the current password and signs out the other sessions, and "sign out
// everywhere".
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';

const PASSWORD = 'a long enough password';

async function register(app: FastifyInstance, email: string, headers: Record<string, string> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/register',
    headers,
    payload: { email, password: PASSWORD, name: email.split('@')[0] },
  });
  assert.equal(response.statusCode, 201, response.body);
  return response;
}

async function signIn(app: FastifyInstance, email: string, password = PASSWORD) {
  const response = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
  const cookie = response.cookies.find((c) => c.name === 'ownlm_session');
  const headers: Record<string, string> = cookie
    ? { cookie: `ownlm_session=${cookie.value}`, 'x-csrf-token': response.json().csrfToken as string }
    : {};
  return { status: response.statusCode, headers };
}

const sessionUser = async (app: FastifyInstance, headers: Record<string, string>) =>
  (await app.inject({ method: 'GET', url: '/api/session', headers })).json().user as { email: string } | null;

describe('accounts', () => {
  const homes: string[] = [];
  const apps = new Map<boolean, Promise<FastifyInstance>>();
  /** One app per proxy setting, shared by the tests (each uses its own accounts). */
  function appWith(options: { trustProxy: boolean }): Promise<FastifyInstance> {
    if (!apps.has(options.trustProxy)) {
      const home = mkdtempSync(join(tmpdir(), 'ownlm-auth-'));
      homes.push(home);
      apps.set(options.trustProxy, buildApp({ home, logLevel: 'warn', jobWorkers: 0, ...options }));
    }
    return apps.get(options.trustProxy)!;
  }
  after(async () => {
    for (const app of apps.values()) await (await app).close();
    for (const home of homes) rmSync(home, { recursive: true, force: true });
  });

  test('the session cookie is Secure over HTTPS, also behind a trusted proxy, and never on a spoofed header', async () => {
    const proxied = await appWith({ trustProxy: true });
    const direct = await appWith({ trustProxy: false });
    const cookieOf = (response: Awaited<ReturnType<typeof register>>) =>
      response.cookies.find((c) => c.name === 'ownlm_session')!;

    const behindProxy = cookieOf(await register(proxied, 'a@example.com', { 'x-forwarded-proto': 'https' }));
    assert.equal(behindProxy.secure, true, 'HTTPS at the proxy: Secure');
    assert.equal(behindProxy.httpOnly, true);
    assert.equal(behindProxy.sameSite, 'Lax');
    const plain = cookieOf(await register(proxied, 'b@example.com'));
    assert.equal(plain.secure, undefined, 'plain HTTP at the proxy: not Secure (the browser would drop it)');
    const spoofed = cookieOf(await register(direct, 'c@example.com', { 'x-forwarded-proto': 'https' }));
    assert.equal(spoofed.secure, undefined, 'an untrusted client cannot claim HTTPS');
  });

  test('a password change checks the current password, signs out the other sessions and keeps this one', async () => {
    const app = await appWith({ trustProxy: false });
    await register(app, 'ada@example.com');
    const laptop = await signIn(app, 'ada@example.com');
    const phone = await signIn(app, 'ada@example.com');
    const change = (headers: Record<string, string>, payload: unknown) =>
      app.inject({ method: 'POST', url: '/api/auth/password', headers, payload: payload as object });

    const wrong = await change(laptop.headers, {
      currentPassword: 'not it at all',
      newPassword: 'a new passphrase',
    });
    assert.equal(wrong.statusCode, 403, wrong.body);
    assert.equal(wrong.json().error.param, 'currentPassword');
    const short = await change(laptop.headers, { currentPassword: PASSWORD, newPassword: 'short' });
    assert.equal(short.statusCode, 400, short.body);
    assert.equal(short.json().error.param, 'newPassword');
    assert.equal(
      (await sessionUser(app, phone.headers))?.email,
      'ada@example.com',
      'refusals change nothing',
    );

    const changed = await change(laptop.headers, {
      currentPassword: PASSWORD,
      newPassword: 'a new passphrase',
    });
    assert.equal(changed.statusCode, 204, changed.body);
    assert.equal((await sessionUser(app, laptop.headers))?.email, 'ada@example.com', 'this session stays');
    assert.equal(await sessionUser(app, phone.headers), null, 'the other session ended');
    assert.equal((await signIn(app, 'ada@example.com')).status, 401, 'the old password no longer works');
    assert.equal((await signIn(app, 'ada@example.com', 'a new passphrase')).status, 200);
  });

  test('an API key cannot change the password', async () => {
    const app = await appWith({ trustProxy: false });
    await register(app, 'bo@example.com');
    const { headers } = await signIn(app, 'bo@example.com');
    const key = await app.inject({ method: 'POST', url: '/api/keys', headers, payload: { name: 'k' } });
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/password',
      headers: { authorization: `Bearer ${key.json().secret}` },
      payload: { currentPassword: PASSWORD, newPassword: 'a new passphrase' },
    });
    assert.ok([401, 403].includes(response.statusCode), response.body);
    assert.equal((await signIn(app, 'bo@example.com')).status, 200, 'the password is unchanged');
  });

  test('sign out everywhere ends every session, this one included', async () => {
    const app = await appWith({ trustProxy: false });
    await register(app, 'cy@example.com');
    const one = await signIn(app, 'cy@example.com');
    const two = await signIn(app, 'cy@example.com');
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/logout-everywhere',
      headers: one.headers,
    });
    assert.equal(response.statusCode, 204, response.body);
    assert.equal(await sessionUser(app, one.headers), null);
    assert.equal(await sessionUser(app, two.headers), null);
    assert.equal((await signIn(app, 'cy@example.com')).status, 200, 'signing in again works');
  });
});
