import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '@ownlm/studio';
import { describeConfig, loadConfig } from './config.ts';

test('flags win over the environment, which wins over the defaults', () => {
  const config = loadConfig(['--port', '9000'], {
    PORT: '7000',
    OWNLM_HOME: '/data/ownlm',
    OWNLM_PARALLEL: '2',
  });
  assert.equal(config.port, 9000);
  assert.equal(config.home, '/data/ownlm');
  assert.equal(config.parallelSequences, 2);
  assert.equal(config.databaseUrl, null);
  assert.equal(loadConfig([], {}).home, resolve('.ownlm'));
  assert.equal(loadConfig([], {}).port, 8080);
});

test('bad values and unknown flags name the flag or variable', () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--port', '70000'], {}, /--port \/ PORT/],
    [[], { PORT: '12abc' }, /--port \/ PORT: .*'12abc'/],
    [[], { OWNLM_PARALLEL: '0' }, /OWNLM_PARALLEL/],
    [[], { OWNLM_SECURE_COOKIES: 'sometimes' }, /OWNLM_SECURE_COOKIES: expected one of auto, always, never/],
    [[], { DATABASE_URL: 'mysql://u:secret@h/db' }, /DATABASE_URL: expected postgres/],
    [['--no-such-flag'], {}, /no-such-flag/],
  ];
  for (const [argv, env, message] of cases)
    assert.throws(
      () => loadConfig(argv, env),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
    );
});

test('the printed configuration masks the database password', () => {
  const config = loadConfig([], { DATABASE_URL: 'postgres://ownlm:hunter2@db.internal:5432/ownlm' });
  const printed = describeConfig(config);
  assert.ok(!printed.includes('hunter2'));
  assert.match(printed, /postgres:\/\/ownlm:\*\*\*\*@db\.internal:5432\/ownlm/);
  // An invalid URL must not leak either.
  assert.throws(
    () => loadConfig([], { DATABASE_URL: 'mysql://u:secret@h/db' }),
    (e: Error) => !e.message.includes('secret'),
  );
});

test('job settings: workers, lease, hourly rate and currency, each checked', () => {
  const defaults = loadConfig([], {});
  assert.deepEqual(
    [defaults.jobWorkers, defaults.jobLeaseMs, defaults.hourlyRate, defaults.currency],
    [1, 30_000, 0, 'USD'],
  );
  const config = loadConfig(['--job-workers', '0', '--hourly-rate', '2.75'], {
    OWNLM_JOB_LEASE_SECONDS: '10',
    OWNLM_CURRENCY: 'eur',
  });
  assert.deepEqual(
    [config.jobWorkers, config.jobLeaseMs, config.hourlyRate, config.currency],
    [0, 10_000, 2.75, 'EUR'],
  );
  const printed = describeConfig(config);
  for (const line of [
    /--job-workers +0$/m,
    /--job-lease-seconds +10$/m,
    /--hourly-rate +2\.75$/m,
    /--currency +EUR$/m,
  ])
    assert.match(printed, line);
  for (const [argv, message] of [
    [['--hourly-rate', 'cheap'], /--hourly-rate \/ OWNLM_HOURLY_RATE: expected a number/],
    [['--currency', 'euro'], /--currency \/ OWNLM_CURRENCY: expected a three-letter code/],
    [['--job-lease-seconds', '1'], /--job-lease-seconds/],
    [['--job-workers', 'two'], /--job-workers/],
  ] as const)
    assert.throws(
      () => loadConfig([...argv], {}),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
    );
});

test('the outbound allow-list: CIDRs, addresses and host names; anything else names the setting', () => {
  assert.deepEqual(loadConfig([], {}).outboundAllow, []);
  const config = loadConfig(['--outbound-allow', '10.0.0.0/8, 127.0.0.1,vllm.internal'], {});
  assert.deepEqual(config.outboundAllow, ['10.0.0.0/8', '127.0.0.1', 'vllm.internal']);
  assert.match(describeConfig(config), /--outbound-allow +10\.0\.0\.0\/8,127\.0\.0\.1,vllm\.internal$/m);
  assert.deepEqual(loadConfig([], { OWNLM_OUTBOUND_ALLOW: '::1' }).outboundAllow, ['::1']);
  for (const bad of ['10.0.0.0/33', '127.1', 'http://vllm.internal'])
    assert.throws(
      () => loadConfig(['--outbound-allow', bad], {}),
      (e: Error) =>
        e instanceof ConfigError && /--outbound-allow \/ OWNLM_OUTBOUND_ALLOW: expected/.test(e.message),
    );
});

test('the public URL and the other host names this server answers to', () => {
  const config = loadConfig(
    ['--public-url', 'https://Ownlm.Example.com/chat/', '--allowed-hosts', 'a.example, B.internal'],
    {},
  );
  assert.equal(config.publicUrl, 'https://ownlm.example.com');
  assert.deepEqual(config.allowedHosts, ['a.example', 'b.internal']);
  assert.equal(loadConfig([], {}).publicUrl, null);
  for (const [argv, message] of [
    [['--public-url', 'ftp://ownlm.example.com'], /--public-url \/ OWNLM_PUBLIC_URL: expected/],
    [['--public-url', 'https://user:pw@ownlm.example.com'], /--public-url/],
    [['--allowed-hosts', '*.example.com'], /--allowed-hosts \/ OWNLM_ALLOWED_HOSTS: expected/],
    [['--allowed-hosts', 'ownlm.example.com:8080'], /--allowed-hosts/],
  ] as const)
    assert.throws(
      () => loadConfig([...argv], {}),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
    );
});
