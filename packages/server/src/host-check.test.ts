// DNS rebinding: a request whose Host is a name the server does not answer to is refused with 421 before it
// reaches a route (registration included), whatever its path; addresses, localhost, the public URL's host and
// the configured names are answered.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { hostAllowed } from './host-check.ts';

describe('Host allow-list', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-host-'));
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp({
      home,
      logLevel: 'warn',
      jobWorkers: 0,
      publicUrl: 'https://ownlm.example.com',
      allowedHosts: ['ownlm.internal'],
    });
  });
  after(async () => {
    await app.close();
    rmSync(home, { recursive: true, force: true });
  });

  let registered = 0;
  const register = (host: string) =>
    app.inject({
      method: 'POST',
      url: '/api/auth/register',
      headers: { host },
      payload: { email: `user${(registered += 1)}@example.com`, password: 'a long enough password' },
    });

  test('a rebinding name is refused with 421 before routing: nothing is registered', async () => {
    for (const host of ['attacker.invalid', 'attacker.invalid:8080', 'ownlm.example.com.attacker.invalid']) {
      const response = await register(host);
      assert.equal(response.statusCode, 421, `${host}: ${response.body}`);
      assert.equal(response.json().error.code, 'misdirected');
      assert.match(response.json().error.message, /--allowed-hosts/);
    }
    for (const path of ['/api/session', '/v1/models', '/', '/does-not-exist'])
      assert.equal(
        (await app.inject({ method: 'GET', url: path, headers: { host: 'attacker.invalid' } })).statusCode,
        421,
        path,
      );
    const first = await register('127.0.0.1:8080');
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.json().user.role, 'admin', 'the refused registrations made no account');
  });

  test('addresses, localhost, the public URL and the configured names are answered', async () => {
    for (const host of [
      'localhost:8080',
      '[::1]:8080',
      '192.0.2.7',
      'ownlm.example.com',
      'OWNLM.internal:443',
    ])
      assert.equal(
        (await app.inject({ method: 'GET', url: '/api/session', headers: { host } })).statusCode,
        200,
        host,
      );
  });

  test('without a public URL, only addresses and localhost', () => {
    const allowed = hostAllowed({ publicUrl: null, allowedHosts: [] });
    assert.deepEqual(
      [
        'localhost',
        '127.0.0.1',
        '[::1]',
        '::ffff:127.0.0.1',
        'localhost.',
        'example.com',
        'evil.localhost',
      ].map(allowed),
      [true, true, true, true, true, false, false],
    );
  });
});
