// Outbound requests against real HTTP servers on loopback (allowed explicitly where a test needs to reach one)
// and names under the reserved `.invalid` domain, which a stub resolver maps to whatever a test needs. Every
// Outbound here opens its sockets through `loopbackOnly`, which records each one and refuses any address but
// loopback, so no traffic leaves the machine even if the code under test were wrong.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { AppError } from '../errors.ts';
import { Outbound, type ConnectTarget, type OutboundOptions } from './outbound.ts';

interface Loopback {
  port: number;
  url: string;
  requests: { url: string; headers: IncomingHttpHeaders }[];
  connections: number;
}

const servers: Server[] = [];
after(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

/** An HTTP server on 127.0.0.1 counting the connections it is opened and the requests it gets. */
async function loopback(handler: RequestListener): Promise<Loopback> {
  const seen: Loopback = { port: 0, url: '', requests: [], connections: 0 };
  const server = createServer((request, response) => {
    seen.requests.push({ url: request.url!, headers: request.headers });
    handler(request, response);
  });
  server.on('connection', () => seen.connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  seen.port = (server.address() as AddressInfo).port;
  seen.url = `http://127.0.0.1:${seen.port}`;
  return seen;
}

/** An Outbound whose sockets go only to loopback; `opened` lists every socket it asked for. */
function outbound(options: Partial<OutboundOptions> = {}) {
  const opened: ConnectTarget[] = [];
  const client = new Outbound({
    allow: [],
    resolve: async (host) => assert.fail(`nothing should resolve ${host}`),
    connect: (target) => {
      opened.push(target);
      if (!target.address.startsWith('127.')) throw new Error(`a test opened a socket to ${target.address}`);
      return netConnect({ host: target.address, port: target.port });
    },
    ...options,
  });
  return { client, opened };
}

/** A stub resolver over `.invalid` names, counting its calls. */
function resolver(names: Record<string, string[] | (() => string[])>) {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    const entry = names[host];
    if (!entry) throw new Error(`ENOTFOUND ${host}`);
    return typeof entry === 'function' ? entry() : entry;
  };
  return { resolve, calls };
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AppError, String(error));
  return error;
}

const ok: RequestListener = (_request, response) => response.end('hello');

test('loopback is refused without the allow-list, before any socket is opened; allowed, it is reached', async () => {
  const server = await loopback(ok);
  const refused = outbound();
  const error = await refusal(refused.client.request(`${server.url}/hook`));
  assert.equal(error.code, 'outbound_refused');
  assert.equal(error.status, 400);
  assert.match(error.message, /127\.0\.0\.1 is a non-public address \(loopback\).*--outbound-allow/);
  assert.deepEqual(refused.opened, []);
  assert.equal(server.connections, 0);

  for (const allow of [['127.0.0.1'], ['127.0.0.0/8']]) {
    const allowed = outbound({ allow });
    const response = await allowed.client.request(`${server.url}/hook?x=1`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'hello');
    assert.deepEqual(allowed.opened, [
      { address: '127.0.0.1', port: server.port, tls: false, servername: undefined },
    ]);
  }
  assert.equal(server.requests.at(-1)!.url, '/hook?x=1');
});

test('every spelling of a non-public address and every non-public name is refused without resolving', async () => {
  const { client, opened } = outbound();
  for (const url of [
    'http://2130706433/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://0177.0.0.1/',
    'http://0/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::1]:8080/',
    'http://[::]/',
    'http://[64:ff9b::7f00:1]/',
    'http://[2002:7f00:1::]/',
    'http://[fe80::1]/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://169.254.169.254/latest/meta-data/',
    'http://0xa9fea9fe/',
    'http://10.0.0.1/',
    'https://192.168.0.1/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
    'http://localhost/',
    'http://LOCALHOST./',
    'http://app.localhost/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://metadata/',
  ]) {
    const error = await refusal(client.request(url));
    assert.equal(error.code, 'outbound_refused', url);
    assert.throws(() => client.checkWithoutResolving(url, 'url'), { code: 'outbound_refused', param: 'url' });
  }
  assert.deepEqual(opened, []);
});

test('URLs other than http(s) without credentials are refused, naming the field', async () => {
  const { client } = outbound();
  for (const [url, message] of [
    ['file:///etc/passwd', /must use http or https, not file/],
    ['gopher://x.invalid/', /must use http or https/],
    ['http://user:secret@x.invalid/', /must not carry a user name or password/],
    ['not a url', /is not an absolute URL/],
  ] as const) {
    assert.throws(() => client.checkWithoutResolving(url, 'url'), {
      code: 'invalid_request',
      param: 'url',
      message,
    });
    assert.equal((await refusal(client.request(url))).code, 'invalid_request');
  }
});

test('a name resolving to a non-public address is refused at the resolve step, no socket opened', async () => {
  const names = resolver({
    'private.invalid': ['10.0.0.1'],
    'metadata.invalid': ['169.254.169.254'],
    'cgnat.invalid': ['100.64.0.1'],
    'ula.invalid': ['fd12:3456::1'],
    'mapped.invalid': ['::ffff:10.0.0.1'],
    'nat64.invalid': ['64:ff9b::a9fe:a9fe'],
    // One allowed (loopback, allow-listed here) and one not: the name is refused, not half-used.
    'two.invalid': ['127.0.0.1', '10.0.0.1'],
  });
  const server = await loopback(ok);
  const { client, opened } = outbound({ allow: ['127.0.0.1'], resolve: names.resolve });
  for (const [host, kind] of [
    ['private.invalid', 'private'],
    ['metadata.invalid', 'cloud metadata'],
    ['cgnat.invalid', 'carrier-grade NAT'],
    ['ula.invalid', 'unique-local'],
    ['mapped.invalid', 'private'],
    ['nat64.invalid', 'cloud metadata'],
    ['two.invalid', 'private'],
  ] as const) {
    const error = await refusal(client.request(`http://${host}:${server.port}/`));
    assert.equal(error.code, 'outbound_refused');
    assert.equal(error.message.split(';')[0], `host '${host}' resolves to a non-public address (${kind})`);
    assert.ok(!/10\.0\.0\.1|169\.254|fd12/.test(error.message), 'the resolved address is not told');
  }
  assert.deepEqual(opened, []);
  assert.equal(server.connections, 0);

  const missing = await refusal(client.request('http://nowhere.invalid/'));
  assert.equal(missing.code, 'outbound_unreachable');
  assert.match(missing.message, /host 'nowhere\.invalid' does not resolve/);
});

test('the name is resolved once and the socket goes to the address that was checked (no rebinding)', async () => {
  const server = await loopback(ok);
  let answers = 0;
  // A rebinding DNS server: a harmless address for the check, a private one for any later look-up.
  const names = resolver({ 'rebind.invalid': () => (answers++ === 0 ? ['127.0.0.1'] : ['10.0.0.1']) });
  const { client, opened } = outbound({ allow: ['127.0.0.1'], resolve: names.resolve });
  const response = await client.request(`http://rebind.invalid:${server.port}/path`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'hello');
  assert.deepEqual(names.calls, ['rebind.invalid']);
  assert.deepEqual(opened, [{ address: '127.0.0.1', port: server.port, tls: false, servername: undefined }]);
  assert.equal(
    server.requests.at(-1)!.headers.host,
    `rebind.invalid:${server.port}`,
    'the Host header keeps the name',
  );
});

test('an allow-listed name may resolve to a private address; https keeps the name for TLS', async () => {
  const names = resolver({ 'vllm.invalid': ['10.0.0.7'] });
  const targets: ConnectTarget[] = [];
  const client = new Outbound({
    allow: ['vllm.invalid'],
    resolve: names.resolve,
    // Records where the socket would go and opens none.
    connect: (target) => {
      targets.push(target);
      throw new Error('not connecting in this test');
    },
  });
  const error = await refusal(client.request('https://vllm.invalid:8443/v1/chat/completions'));
  assert.equal(error.code, 'outbound_unreachable');
  assert.deepEqual(targets, [{ address: '10.0.0.7', port: 8443, tls: true, servername: 'vllm.invalid' }]);
});

test('a redirect is the answer, never followed, wherever it points', async () => {
  const target = await loopback(ok);
  const names = resolver({ 'metadata.invalid': ['169.254.169.254'] });
  for (const location of [`${target.url}/elsewhere`, 'http://metadata.invalid/latest/meta-data/']) {
    const redirecting = await loopback((_request, response) => {
      response.writeHead(302, { location });
      response.end();
    });
    const { client, opened } = outbound({ allow: ['127.0.0.1'], resolve: names.resolve });
    const response = await client.request(redirecting.url, { method: 'POST', body: '{}' });
    assert.equal(response.status, 302);
    assert.equal(response.headers.location, location);
    response.discard();
    assert.equal(opened.length, 1);
  }
  assert.equal(target.connections, 0);
  assert.deepEqual(names.calls, []);
});

test('time is bounded: connecting, waiting for the answer, and reading the body', async () => {
  const silent = await loopback(() => {});
  const { client, opened } = outbound({ allow: ['127.0.0.1'] });
  const started = Date.now();
  const noAnswer = await refusal(client.request(silent.url, { timeoutMs: 200 }));
  assert.equal(noAnswer.code, 'outbound_timeout');
  assert.equal(noAnswer.status, 504);
  assert.match(noAnswer.message, /127\.0\.0\.1 did not answer within 200 ms/);
  assert.ok(Date.now() - started < 2000);

  const trickle = await loopback((_request, response) => {
    response.writeHead(200);
    response.write('first');
  });
  const response = await client.request(trickle.url, { timeoutMs: 300 });
  const reading = response.text();
  assert.equal((await refusal(reading)).code, 'outbound_timeout');

  // A socket that stays connecting (as to a host that drops packets): its look-up never answers, so it sends
  // nothing anywhere.
  const never = new Outbound({
    allow: ['127.0.0.1'],
    connect: ({ port }) => netConnect({ host: 'never.invalid', port, lookup: () => {} }),
  });
  const unconnected = await refusal(never.request('http://127.0.0.1:9/', { connectTimeoutMs: 100 }));
  assert.equal(unconnected.code, 'outbound_timeout');
  assert.match(unconnected.message, /could not connect to 127\.0\.0\.1 within 100 ms/);

  const controller = new AbortController();
  const sockets = opened.length;
  const aborted = client.request(silent.url, { signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, { name: 'AbortError' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(opened.length, sockets, 'a request aborted before connecting opens no socket');
});

test('size is bounded: a declared length over the cap, and a stream read as it comes until it passes the cap', async () => {
  const big = await loopback((_request, response) => {
    response.setHeader('content-length', 2000);
    response.end('x'.repeat(2000));
  });
  const { client } = outbound({ allow: ['127.0.0.1'] });
  const declared = await refusal((await client.request(big.url, { maxBytes: 1000 })).text());
  assert.equal(declared.code, 'outbound_too_large');
  assert.match(declared.message, /127\.0\.0\.1 answered with a body larger than 1000 bytes/);

  let sent = 0;
  const stream = await loopback((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const timer = setInterval(() => {
      sent++;
      response.write(`data: ${'y'.repeat(94)}\n\n`);
    }, 5);
    response.on('close', () => clearInterval(timer));
  });
  const events = await client.request(stream.url, { maxBytes: 1000 });
  const received: string[] = [];
  const overflow = await refusal(
    (async () => {
      for await (const chunk of events.body) received.push(chunk.toString());
    })(),
  );
  assert.equal(overflow.code, 'outbound_too_large');
  assert.ok(received.length >= 1, 'the stream was read as it came');
  assert.ok(received.join('').length <= 1000);
  assert.ok(!overflow.message.includes('yyyy'), 'the error never carries the body');
  assert.ok(sent < 100, 'the connection closed at the cap');
});

test('a failure names the host, never the errno or what the other end said', async () => {
  const closed = await loopback(ok);
  await new Promise((resolve) => servers.pop()!.close(resolve));
  const { client } = outbound({ allow: ['127.0.0.1'] });
  const refusedPort = await refusal(client.request(closed.url));
  assert.equal(refusedPort.code, 'outbound_unreachable');
  assert.equal(refusedPort.status, 502);
  assert.match(refusedPort.message, /could not reach 127\.0\.0\.1/);
  assert.ok(!/ECONNREFUSED/.test(refusedPort.message));

  const failing = await loopback((_request, response) => {
    response.statusCode = 500;
    response.end('stack trace of the internal service');
  });
  const answer = await client.request(failing.url);
  assert.equal(answer.status, 500, 'a non-2xx answer is an answer; the caller decides what to read');
  answer.discard();
});
