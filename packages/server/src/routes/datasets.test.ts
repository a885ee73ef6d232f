// The datasets API through the whole app in-process (`inject`), with the tiny chat model as the default model:
// uploads in each content type and format with every rejected line surfacing, statistics counted with the
// model's tokenizer (checked against llama.cpp's own tokenization), preview pages, the size limit, another
// user's dataset as 404, delete with its files, and synthesis from templates and from an OpenAI-compatible
// endpoint (a real HTTP receiver on loopback that checks the user's key; the app allows 127.0.0.1 explicitly,
// and any other loopback address is refused).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { getLlama } from 'node-llama-cpp';
import { buildApp } from '../app.ts';
import { configWithDefaults } from '../config.ts';
import type { AppContext } from '../context.ts';
import { openPglite } from '../db/database.ts';
import { users } from '../db/schema.ts';
import { JobHub } from '../jobs/events.ts';
import { Outbound } from '../outbound/outbound.ts';
import { SafetyPolicies } from '../safety/policies.ts';
import { ModelRegistry } from '../registry/registry.ts';
import { createLlamaRuntime } from '../serve/llama-runtime.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { datasetRoutes } from './datasets.ts';

interface Dataset {
  id: string;
  name: string;
  sourceFormat: string;
  conversations: number;
  trainConversations: number;
  validationConversations: number;
  stats: {
    conversations: number;
    turns: number;
    messages: Record<string, number>;
    tokens: Record<string, number>;
    lengthHistogram: { upTo: number; count: number }[];
    tokenCounter: string;
    tokenizerModel?: string;
  };
  rejected: { line: number; field?: string; message: string }[];
  rejectedCount: number;
}

interface Conversation {
  messages: { role: string; content: string; weight?: number }[];
}

const chat = (user: string, assistant: string, system?: string) =>
  JSON.stringify({
    messages: [
      ...(system ? [{ role: 'system', content: system }] : []),
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

const GOOD = Array.from({ length: 10 }, (_, i) =>
  chat(
    `Question number ${i}: how do I start?`,
    `Start small, step ${i}.`,
    i % 3 === 0 ? 'Be brief.' : undefined,
  ),
);
/** Lines 11 to 15: each broken in its own way. */
const BAD = [
  '{"messages": [',
  JSON.stringify({
    messages: [
      { role: 'wizard', content: 'hi' },
      { role: 'assistant', content: 'yo' },
    ],
  }),
  JSON.stringify({
    messages: [
      { role: 'user', content: '' },
      { role: 'assistant', content: 'yo' },
    ],
  }),
  JSON.stringify({ messages: [{ role: 'user', content: 'only a question' }] }),
  '[1, 2, 3]',
];

describe('datasets API', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-datasets-'));
  let app: FastifyInstance;
  const headers: Record<string, string>[] = [];
  let gguf: string;
  const servers: Server[] = [];

  async function call(who: number, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
    return app.inject({ method, url, headers: headers[who], ...(payload ? { payload } : {}) });
  }

  async function upload(query: string, body: string, contentType = 'application/x-ndjson') {
    return app.inject({
      method: 'POST',
      url: `/api/datasets?${query}`,
      headers: { ...headers[0], 'content-type': contentType },
      payload: body,
    });
  }

  before(async () => {
    gguf = (await tinyModel()).gguf;
    mkdirSync(join(home, 'models'));
    copyFileSync(gguf, join(home, 'models', 'tiny.gguf'));
    app = await buildApp({
      home,
      logLevel: 'silent',
      threads: 1,
      datasetLimitBytes: 32 * 1024,
      outboundAllow: ['127.0.0.1'],
    });
    for (const email of ['ada@example.com', 'bob@example.com']) {
      const registered = await app.inject({
        method: 'POST',
        url: '/api/auth/register',
        payload: { email, password: 'a long enough password', name: email },
      });
      const cookie = registered.cookies.find((c) => c.name === 'ownlm_session')!;
      headers.push({
        cookie: `ownlm_session=${cookie.value}`,
        'x-csrf-token': (registered.json() as { csrfToken: string }).csrfToken,
      });
    }
  });
  after(async () => {
    await app?.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(home, { recursive: true, force: true });
  });

  test('an upload keeps the valid conversations and returns and stores every rejected line', async () => {
    const response = await upload('name=support&validation=0.2', [...GOOD, ...BAD].join('\n'));
    assert.equal(response.statusCode, 201, response.body);
    const { dataset } = response.json() as { dataset: Dataset };
    assert.equal(dataset.name, 'support');
    assert.equal(dataset.sourceFormat, 'openai');
    assert.equal(dataset.conversations, 10);
    assert.equal(dataset.trainConversations + dataset.validationConversations, 10);
    assert.ok(dataset.validationConversations >= 1);
    assert.equal(dataset.rejectedCount, 5);
    assert.deepEqual(
      dataset.rejected.map((r) => r.line),
      [11, 12, 13, 14, 15],
    );
    assert.ok(dataset.rejected.every((r) => r.message.length > 0));
    assert.equal(dataset.rejected[1]!.field, 'messages[0].role');
    assert.equal(dataset.rejected[2]!.field, 'messages[0].content');
    // Stored: the same rejections come back from the list and by id.
    const fetched = (await call(0, 'GET', `/api/datasets/${dataset.id}`)).json() as { dataset: Dataset };
    assert.deepEqual(fetched.dataset, dataset);

    // Statistics with the default model's tokenizer, which is llama.cpp's own.
    assert.equal(dataset.stats.tokenCounter, 'tokenizer');
    assert.equal(dataset.stats.tokenizerModel, 'tiny:1');
    assert.deepEqual(dataset.stats.messages, { system: 4, user: 10, assistant: 10 });
    assert.equal(dataset.stats.turns, 20);
    const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true });
    const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
    try {
      const expected = { system: 0, user: 0, assistant: 0 } as Record<string, number>;
      for (const line of GOOD)
        for (const m of (JSON.parse(line) as Conversation).messages)
          expected[m.role]! += model.tokenize(m.content, false).length;
      assert.deepEqual(dataset.stats.tokens, expected);
    } finally {
      await model.dispose();
    }
    assert.equal(
      dataset.stats.lengthHistogram.reduce((n, b) => n + b.count, 0),
      10,
    );
  });

  test('a file with no valid conversation is a 400 naming the first lines, with all of them in `rejected`', async () => {
    const response = await upload('name=broken', BAD.join('\n'));
    assert.equal(response.statusCode, 400, response.body);
    const body = response.json() as {
      error: { message: string; param: string };
      rejected: Dataset['rejected'];
    };
    assert.match(body.error.message, /line 1: .*line 2: messages\[0\]\.role/);
    assert.deepEqual(
      body.rejected.map((r) => r.line),
      [1, 2, 3, 4, 5],
    );
    const empty = await upload('name=empty', '');
    assert.equal(empty.statusCode, 400, empty.body);
    assert.match((empty.json() as { error: { message: string } }).error.message, /no conversation/);
    const { datasets } = (await call(0, 'GET', '/api/datasets')).json() as { datasets: Dataset[] };
    assert.deepEqual(
      datasets.map((d) => d.name),
      ['support'],
      'nothing stored',
    );
  });

  test('ShareGPT as text/plain and Alpaca as application/jsonl are converted; bad options name the field', async () => {
    const sharegpt = [
      JSON.stringify({
        conversations: [
          { from: 'human', value: 'Hi?' },
          { from: 'gpt', value: 'Hello.' },
        ],
      }),
      JSON.stringify({
        conversations: [
          { from: 'human', value: 'Why?' },
          { from: 'gpt', value: 'Because.' },
        ],
      }),
    ].join('\n');
    const imported = await upload('name=sg&format=sharegpt&validation=0', sharegpt, 'text/plain');
    assert.equal(imported.statusCode, 201, imported.body);
    const { dataset } = imported.json() as { dataset: Dataset };
    assert.equal(dataset.sourceFormat, 'sharegpt');
    assert.equal(dataset.validationConversations, 0);
    const preview = (await call(0, 'GET', `/api/datasets/${dataset.id}/preview`)).json() as {
      conversations: Conversation[];
      total: number;
    };
    assert.equal(preview.total, 2);
    assert.deepEqual(preview.conversations[0]!.messages, [
      { role: 'user', content: 'Hi?' },
      { role: 'assistant', content: 'Hello.' },
    ]);

    const alpaca = JSON.stringify({ instruction: 'Add 2 and 2.', input: '', output: '4' });
    const auto = await upload('name=alpaca', alpaca, 'application/jsonl');
    assert.equal(auto.statusCode, 201, auto.body);
    assert.equal((auto.json() as { dataset: Dataset }).dataset.sourceFormat, 'alpaca');

    for (const [query, param] of [
      ['format=yaml&name=x', 'format'],
      ['name=x&validation=1.5', 'validation'],
      ['name=x&validation=abc', 'validation'],
      ['validation=0.1', 'name'],
    ] as const) {
      const refused = await upload(query, GOOD[0]!);
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal((refused.json() as { error: { param: string } }).error.param, param);
    }
    const asJson = await upload('name=json', GOOD[0]!, 'application/json');
    assert.equal(asJson.statusCode, 400, asJson.body);
    assert.match((asJson.json() as { error: { message: string } }).error.message, /application\/x-ndjson/);
    const tooLarge = await upload('name=big', `${GOOD[0]!}\n`.repeat(400));
    assert.equal(tooLarge.statusCode, 413, tooLarge.body);
  });

  test('preview pages through a split; another user gets 404 everywhere; delete removes the files', async () => {
    const { datasets } = (await call(0, 'GET', '/api/datasets')).json() as { datasets: Dataset[] };
    assert.deepEqual(
      datasets.map((d) => d.name),
      ['alpaca', 'sg', 'support'],
      'newest first',
    );
    const support = datasets.find((d) => d.name === 'support')!;
    const page = async (query: string) =>
      (await call(0, 'GET', `/api/datasets/${support.id}/preview?${query}`)).json() as {
        conversations: Conversation[];
        total: number;
      };
    const all = await page('split=train&limit=100');
    assert.equal(all.total, support.trainConversations);
    const second = await page('split=train&offset=2&limit=3');
    assert.deepEqual(second.conversations, all.conversations.slice(2, 5));
    const validation = await page('split=validation');
    assert.equal(validation.total, support.validationConversations);
    const refused = await call(0, 'GET', `/api/datasets/${support.id}/preview?limit=1000`);
    assert.equal((refused.json() as { error: { param: string } }).error.param, 'limit');

    for (const [method, url] of [
      ['GET', `/api/datasets/${support.id}`],
      ['GET', `/api/datasets/${support.id}/preview`],
      ['DELETE', `/api/datasets/${support.id}`],
    ] as const)
      assert.equal((await call(1, method, url)).statusCode, 404, `${method} ${url} as another user`);
    assert.deepEqual((await call(1, 'GET', '/api/datasets')).json(), { datasets: [] });

    const folders = () => readdirSync(join(home, 'datasets'));
    assert.ok(folders().includes(support.id));
    assert.equal((await call(0, 'DELETE', `/api/datasets/${support.id}`)).statusCode, 204);
    assert.ok(!existsSync(join(home, 'datasets', support.id)), 'the files are gone');
    assert.equal((await call(0, 'GET', `/api/datasets/${support.id}`)).statusCode, 404);
  });

  test('synthesis from templates is seeded; from an OpenAI-compatible endpoint with the user key', async () => {
    const body = { name: 'synthetic', count: 6, seed: 3, validation: 0.2, generator: { kind: 'template' } };
    const first = await call(0, 'POST', '/api/datasets/synthetic', body);
    assert.equal(first.statusCode, 201, first.body);
    const made = (first.json() as { dataset: Dataset }).dataset;
    assert.equal(made.sourceFormat, 'synthetic');
    assert.ok(made.conversations >= 1 && made.conversations <= 6);
    assert.equal(made.rejectedCount, 0);
    const again = (await call(0, 'POST', '/api/datasets/synthetic', body)).json() as { dataset: Dataset };
    const previews = await Promise.all(
      [made.id, again.dataset.id].map(
        async (id) => (await call(0, 'GET', `/api/datasets/${id}/preview?limit=100`)).json() as object,
      ),
    );
    assert.deepEqual(previews[0], previews[1], 'the same seed makes the same conversations');

    const requests: { headers: IncomingHttpHeaders; body: { model: string; messages: unknown[] } }[] = [];
    let status = 200;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        requests.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
        response.setHeader('content-type', 'application/json');
        response.statusCode = status;
        response.end(
          JSON.stringify(
            status === 200
              ? { choices: [{ message: { role: 'assistant', content: `Reply number ${requests.length}.` } }] }
              : { error: { message: 'Incorrect API key provided' } },
          ),
        );
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const generator = { kind: 'openai', baseUrl, apiKey: 'sk-user-secret-123', model: 'their-model' };
    const external = await call(0, 'POST', '/api/datasets/synthetic', { name: 'ext', count: 2, generator });
    assert.equal(external.statusCode, 201, external.body);
    assert.ok(requests.length > 0);
    assert.ok(requests.every((r) => r.headers.authorization === 'Bearer sk-user-secret-123'));
    assert.ok(requests.every((r) => r.body.model === 'their-model' && r.body.messages.length > 0));
    const preview = (
      await call(
        0,
        'GET',
        `/api/datasets/${(external.json() as { dataset: Dataset }).dataset.id}/preview?limit=100`,
      )
    ).json() as { conversations: Conversation[] };
    assert.ok(
      preview.conversations.every((c) => c.messages.some((m) => /^Reply number \d+\.$/.test(m.content))),
      'turns come from the endpoint',
    );

    status = 401;
    const refused = await call(0, 'POST', '/api/datasets/synthetic', { name: 'ext2', count: 1, generator });
    assert.equal(refused.statusCode, 400, refused.body);
    const error = (refused.json() as { error: { message: string; param: string } }).error;
    assert.match(error.message, /HTTP 401: Incorrect API key provided/);
    assert.ok(!refused.body.includes('sk-user-secret-123'), 'the key never comes back');

    for (const [payload, param] of [
      [{ name: 'x', count: 0 }, 'count'],
      [{ name: 'x', count: 2, generator: { kind: 'magic' } }, 'generator.kind'],
      [
        {
          name: 'x',
          count: 2,
          generator: { kind: 'openai', baseUrl: 'file:///etc', apiKey: 'k', model: 'm' },
        },
        'generator.baseUrl',
      ],
      [{ name: 'x', count: 2, generator: { kind: 'model', model: 'no-such-model' } }, 'model'],
      // The tiny model's 64 positions cannot hold a persona's prompt: the refusal names the generator.
      [{ name: 'x', count: 1, generator: { kind: 'model', model: 'tiny' } }, 'generator.model'],
    ] as const) {
      const bad = await call(0, 'POST', '/api/datasets/synthetic', payload);
      assert.ok([400, 404].includes(bad.statusCode), bad.body);
      assert.equal((bad.json() as { error: { param: string } }).error.param, param);
    }
  });

  test("the endpoint must be allowed (loopback is not, but for 127.0.0.1 here) and its redirects aren't followed", async () => {
    const reached: string[] = [];
    const endpoint = async (host: string, answer: (response: ServerResponse) => void) => {
      const server = createServer((request, response) => {
        reached.push(`${host} ${request.url}`);
        request.resume();
        request.on('end', () => answer(response));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
      return `http://${host}:${(server.address() as AddressInfo).port}/v1`;
    };
    const completion = (response: ServerResponse) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'Moved here.' } }] }));
    };
    const synthesize = (baseUrl: string) =>
      call(0, 'POST', '/api/datasets/synthetic', {
        name: 'ssrf',
        count: 1,
        generator: { kind: 'openai', baseUrl, apiKey: 'sk-user-secret-123', model: 'm' },
      });

    // 127.0.0.2 is loopback too, and not on the allow-list: refused before a connection is made.
    const other = await synthesize(await endpoint('127.0.0.2', completion));
    assert.equal(other.statusCode, 400, other.body);
    const refused = (other.json() as { error: { code: string; param: string; message: string } }).error;
    assert.deepEqual([refused.code, refused.param], ['outbound_refused', 'generator.baseUrl']);
    assert.match(refused.message, /^generator: 127\.0\.0\.2 is a non-public address \(loopback\)/);
    assert.deepEqual(reached, []);

    const target = await endpoint('127.0.0.1', completion);
    const redirecting = await endpoint('127.0.0.1', (response) => {
      response.writeHead(307, { location: `${target}/chat/completions` });
      response.end();
    });
    const redirected = await synthesize(redirecting);
    assert.equal(redirected.statusCode, 400, redirected.body);
    assert.match((redirected.json() as { error: { message: string } }).error.message, /answered HTTP 307/);
    assert.deepEqual(reached, ['127.0.0.1 /v1/chat/completions'], 'the redirect was not followed');
  });
});

test('with no model registered, statistics estimate tokens as characters / 4 and say so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-datasets-nomodel-'));
  const handle = await openPglite('memory://');
  const runtime = createLlamaRuntime({ resolveModel: async () => null });
  const app = Fastify();
  try {
    await handle.db
      .insert(users)
      .values({ id: 'usr_a', email: 'a@example.com', name: 'A', passwordHash: 'x', role: 'member' });
    const registry = new ModelRegistry(handle.db, join(dir, 'models'), () => {});
    const ctx: AppContext = {
      config: configWithDefaults({ home: dir }),
      db: handle.db,
      registry,
      runtime,
      jobHub: new JobHub(),
      jobCompletions: {},
      outbound: new Outbound({ allow: [] }),
      safety: SafetyPolicies.of(handle.db),
    };
    app.decorateRequest('actor', null);
    app.addHook('onRequest', async (request) => {
      request.actor = { userId: 'usr_a', role: 'member', apiKeyId: null };
    });
    await app.register(datasetRoutes(ctx), { prefix: '/api' });
    const line = chat('Twelve chars', 'Exactly 16 chars', 'Four');
    const response = await app.inject({
      method: 'POST',
      url: '/api/datasets?name=estimate',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: line,
    });
    assert.equal(response.statusCode, 201, response.body);
    const { stats } = (response.json() as { dataset: Dataset }).dataset;
    assert.equal(stats.tokenCounter, 'chars/4');
    assert.equal(stats.tokenizerModel, undefined);
    assert.deepEqual(stats.tokens, { system: 1, user: 3, assistant: 4 });
  } finally {
    await app.close();
    await runtime.close();
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
