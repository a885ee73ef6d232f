// The /v1 plugin in a bare Fastify on loopback with a scripted runtime: response and chunk shapes, errors
// before and after the first token, cancellation on disconnect, usage records. The real model, database and
// the official client are exercised in test/e2e/openai.test.ts.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { enforceAccess } from '../auth/access.ts';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors.ts';
import type { ModelRegistry, RegisteredModel } from '../registry/registry.ts';
import { SafetyPolicies } from '../safety/policies.ts';
import type { GenerationEvent, GenerationOptions, Runtime, RuntimeMessage } from '../serve/runtime.ts';
import type { UsageRecord } from '../usage.ts';
import { v1Routes } from './v1.ts';

const model: RegisteredModel = {
  versionId: 'mv_1',
  name: 'tiny',
  version: 2,
  path: '/nowhere/tiny.gguf',
  format: 'gguf',
  sizeBytes: 1,
  sha256: '0',
  parameters: null,
  quantization: null,
  contextLength: 64,
  chatTemplate: null,
  lineage: null,
  kind: 'model',
  baseVersionId: null,
  ownerId: null,
  createdAt: new Date(1_700_000_000_000),
  aliases: ['default'],
};
const older: RegisteredModel = { ...model, versionId: 'mv_0', version: 1, aliases: [] };

/** What the scripted runtime does for the next generation. */
type Script = (
  options: GenerationOptions,
  messages: RuntimeMessage[] | string,
) => AsyncGenerator<GenerationEvent>;
let script: Script;
let lastOptions: GenerationOptions | null = null;
const usage: UsageRecord[] = [];

const finish = (finishReason: 'stop' | 'length' | 'cancelled', completionTokens = 2) =>
  ({ type: 'finish', finishReason, usage: { promptTokens: 5, completionTokens } }) as const;
const delta = (text: string) => ({ type: 'text-delta', text }) as const;

async function* hello(): AsyncGenerator<GenerationEvent> {
  yield delta('Hel');
  yield delta('lo');
  yield finish('stop');
}

const runtime: Runtime = {
  chat(_id, messages, options) {
    lastOptions = options;
    return script(options, messages);
  },
  complete(_id, prompt, options) {
    lastOptions = options;
    return script(options, prompt);
  },
  async embed(_id, inputs) {
    return { vectors: inputs.map((_, i) => Float32Array.from([i + 0.1, -2.5, 1e-8])), promptTokens: 3 };
  },
  async tokenize() {
    return [];
  },
  async countTokens() {
    return [];
  },
  async info() {
    return {
      contextLength: 64,
      maxTokenBytes: 16,
      chatTemplate: null,
      embeddingSize: 3,
      parameterCount: null,
    };
  },
  async unload() {},
  async close() {},
};

const registry = {
  async list() {
    return [model, older];
  },
  async resolve(reference: string) {
    if (['tiny', 'default', 'tiny:2', 'mv_1'].includes(reference)) return model;
    if (reference === 'tiny:1') return older;
    throw new AppError('model_not_found', `The model '${reference}' does not exist`, 'model');
  },
} as unknown as ModelRegistry;

const db = {
  insert: () => ({
    values: async (record: UsageRecord) => {
      usage.push(record);
    },
  }),
} as unknown as Database;

let app: FastifyInstance;
let url: string;

before(async () => {
  app = Fastify();
  // What buildApp does: the actor from the key, the routes' access policies, AppError in OpenAI's shape.
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    request.actor =
      request.headers.authorization === 'Bearer good'
        ? { userId: 'u1', role: 'member', apiKeyId: 'k1' }
        : null;
    enforceAccess(request);
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof AppError) return reply.status(error.status).send(error.toOpenAI());
    return reply.send(error);
  });
  const ctx = {
    config: {},
    db,
    registry,
    runtime,
    safety: new SafetyPolicies(async () => []),
  } as unknown as AppContext;
  await app.register(v1Routes(ctx), { prefix: '/v1' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`;
});
after(() => app.close());

const post = (path: string, body: unknown, init: RequestInit = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer good', 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
const chatBody = (fields: Record<string, unknown> = {}) => ({
  model: 'default',
  messages: [{ role: 'user', content: 'Hi' }],
  ...fields,
});

/** The `data:` payloads of an SSE body, `[DONE]` included. */
function events(text: string): string[] {
  assert.ok(text.endsWith('\n\n'), 'every event ends with a blank line');
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((event) => {
      assert.ok(event.startsWith('data: '), `only data lines: ${event}`);
      return event.slice(6);
    });
}

test('GET /models lists names, name:version and aliases; GET /models/:model resolves one', async () => {
  const response = await fetch(`${url}/models`, { headers: { authorization: 'Bearer good' } });
  assert.equal(response.status, 200);
  const list = await response.json();
  assert.deepEqual(list, {
    object: 'list',
    data: ['tiny', 'tiny:2', 'default', 'tiny:1'].map((id) => ({
      id,
      object: 'model',
      created: 1_700_000_000,
      owned_by: 'ownlm',
    })),
  });
  const one = await fetch(`${url}/models/tiny:1`, { headers: { authorization: 'Bearer good' } });
  assert.deepEqual(await one.json(), {
    id: 'tiny:1',
    object: 'model',
    created: 1_700_000_000,
    owned_by: 'ownlm',
  });
  const missing = await fetch(`${url}/models/nope`, { headers: { authorization: 'Bearer good' } });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'model_not_found');
  const anonymous = await fetch(`${url}/models`);
  assert.equal(anonymous.status, 401);
  assert.deepEqual(Object.keys((await anonymous.json()).error).sort(), ['code', 'message', 'param', 'type']);
});

test('chat, not streamed: the response shape, usage, the options the runtime got, usage recorded', async () => {
  script = hello;
  usage.length = 0;
  const response = await post(
    '/chat/completions',
    chatBody({ model: 'tiny', temperature: 0, seed: 3, stop: ['x'], max_tokens: 10 }),
  );
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.match(body.id, /^chatcmpl-[A-Za-z0-9_-]+$/);
  assert.equal(typeof body.created, 'number');
  assert.deepEqual(
    { ...body, id: 0, created: 0 },
    {
      id: 0,
      object: 'chat.completion',
      created: 0,
      model: 'tiny',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    },
  );
  assert.equal(lastOptions?.maxTokens, 10);
  assert.equal(lastOptions?.temperature, 0);
  assert.equal(lastOptions?.seed, 3);
  assert.deepEqual(lastOptions?.stop, ['x']);
  assert.deepEqual(
    usage.map(({ firstTokenMs, totalMs, ...record }) => {
      assert.ok(firstTokenMs !== null && totalMs! >= firstTokenMs!, 'first-token and total times');
      return record;
    }),
    [
      {
        ...{ userId: 'u1', apiKeyId: 'k1', model: 'tiny', versionId: 'mv_1', source: 'api' },
        ...{ promptTokens: 5, completionTokens: 2, status: 'ok', errorCode: null },
      },
    ],
  );
  // Without max_tokens, the whole context.
  await (await post('/chat/completions', chatBody())).json();
  assert.equal(lastOptions?.maxTokens, 64);
});

test('chat, streamed with include_usage: same id and created, opening and final chunks, usage chunk, [DONE]', async () => {
  script = hello;
  const response = await post(
    '/chat/completions',
    chatBody({ stream: true, stream_options: { include_usage: true } }),
  );
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  assert.equal(response.headers.get('x-accel-buffering'), 'no');
  const data = events(await response.text());
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  const { id, created } = chunks[0];
  for (const chunk of chunks) {
    assert.equal(chunk.id, id);
    assert.equal(chunk.created, created);
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, 'default');
    assert.ok('usage' in chunk, 'every chunk has usage with include_usage');
  }
  assert.deepEqual(
    chunks.map((c) => [c.choices, c.usage]),
    [
      [[{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], null],
      [[{ index: 0, delta: { content: 'Hel' }, logprobs: null, finish_reason: null }], null],
      [[{ index: 0, delta: { content: 'lo' }, logprobs: null, finish_reason: null }], null],
      [[{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], null],
      [[], { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }],
    ],
  );
  // Without include_usage: no usage key and no usage chunk.
  const plain = events(await (await post('/chat/completions', chatBody({ stream: true }))).text());
  assert.equal(plain.length, 5);
  for (const chunk of plain.slice(0, -1)) assert.ok(!('usage' in JSON.parse(chunk)));
});

test('an error before the first token is an HTTP error; after it, an error event and [DONE]', async () => {
  script = async function* () {
    throw new AppError('context_length_exceeded', 'the prompt is 70 tokens', 'messages');
  };
  const early = await post('/chat/completions', chatBody({ stream: true }));
  assert.equal(early.status, 400);
  assert.deepEqual(await early.json(), {
    error: {
      message: 'the prompt is 70 tokens',
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    },
  });
  // For completions, the field at fault is the prompt.
  const prompt = await post('/completions', { model: 'tiny', prompt: 'x' });
  assert.equal(prompt.status, 400);
  assert.equal((await prompt.json()).error.param, 'prompt');

  script = async function* () {
    yield delta('Hi');
    throw new Error('native failure');
  };
  const late = await post('/chat/completions', chatBody({ stream: true }));
  assert.equal(late.status, 200);
  const data = events(await late.text());
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(JSON.parse(data.at(-2)!).error.code, 'server_error');
  assert.equal(JSON.parse(data.at(-3)!).choices[0].delta.content, 'Hi');
});

test('max_tokens beyond the context is 400 naming the field; the model field of a bad name is 404', async () => {
  const tooLong = await post('/chat/completions', chatBody({ max_completion_tokens: 65 }));
  assert.equal(tooLong.status, 400);
  assert.equal((await tooLong.json()).error.param, 'max_completion_tokens');
  const unknown = await post('/chat/completions', chatBody({ model: 'nope' }));
  assert.equal(unknown.status, 404);
  assert.deepEqual((await unknown.json()).error.param, 'model');
  const hostile = await post('/chat/completions', chatBody({ temperature: 'NaN' }));
  assert.equal(hostile.status, 400);
  assert.equal((await hostile.json()).error.param, 'temperature');
});

/** A generation that runs until aborted, then finishes as cancelled; resolves `aborted` with the delay. */
function endless(onAbort: (ms: number) => void): Script {
  return async function* (options) {
    let abortedAt = 0;
    options.signal.addEventListener('abort', () => (abortedAt = performance.now()));
    let sentAt = 0;
    for (let i = 0; i < 10_000 && !options.signal.aborted; i++) {
      sentAt = performance.now();
      yield delta(`t${i} `);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    onAbort(abortedAt ? abortedAt - sentAt : Infinity);
    yield finish(options.signal.aborted ? 'cancelled' : 'length', 7);
  };
}

test('a client that disconnects mid-stream aborts the generation at once, and its usage is recorded', async () => {
  let cancelled!: (ms: number) => void;
  const ended = new Promise<number>((resolve) => (cancelled = resolve));
  script = endless(cancelled);
  usage.length = 0;
  const controller = new AbortController();
  const response = await post('/chat/completions', chatBody({ stream: true }), { signal: controller.signal });
  const reader = response.body!.getReader();
  await reader.read();
  controller.abort();
  const start = performance.now();
  const delay = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 2000))]);
  assert.notEqual(delay, -1, 'the runtime saw the abort');
  assert.ok(performance.now() - start < 1000, 'within a second');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(usage.length, 1);
  assert.equal(usage[0].completionTokens, 7);
});

test('a client that disconnects before the answer (not streamed) aborts it too', async () => {
  let cancelled!: (ms: number) => void;
  const ended = new Promise<number>((resolve) => (cancelled = resolve));
  script = endless(cancelled);
  const controller = new AbortController();
  const pending = post('/chat/completions', chatBody(), { signal: controller.signal }).catch(() => null);
  await new Promise((resolve) => setTimeout(resolve, 100));
  controller.abort();
  await pending;
  const delay = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 2000))]);
  assert.notEqual(delay, -1, 'the runtime saw the abort');
});

test('a generation cancelled by the runtime (model unloaded) is 503 for a client still there', async () => {
  script = async function* () {
    yield finish('cancelled', 0);
  };
  const response = await post('/chat/completions', chatBody());
  assert.equal(response.status, 503);
  assert.equal((await response.json()).error.code, 'overloaded');
  const streamed = await post('/chat/completions', chatBody({ stream: true }));
  assert.equal(streamed.status, 503);
});

test('completions: text_completion shape, echo, default max_tokens 16, streamed chunks', async () => {
  script = hello;
  const body = await (await post('/completions', { model: 'tiny', prompt: 'Say: ', echo: true })).json();
  assert.match(body.id, /^cmpl-/);
  assert.equal(body.object, 'text_completion');
  assert.deepEqual(body.choices, [{ text: 'Say: Hello', index: 0, logprobs: null, finish_reason: 'stop' }]);
  assert.equal(lastOptions?.maxTokens, 16);
  const data = events(
    await (
      await post('/completions', {
        model: 'tiny',
        prompt: 'Say: ',
        stream: true,
        stream_options: { include_usage: true },
      })
    ).text(),
  );
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.deepEqual(
    chunks.map((c) => [c.object, c.choices]),
    [
      ['text_completion', [{ text: 'Hel', index: 0, logprobs: null, finish_reason: null }]],
      ['text_completion', [{ text: 'lo', index: 0, logprobs: null, finish_reason: null }]],
      ['text_completion', [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }]],
      ['text_completion', []],
    ],
  );
  assert.equal(chunks.at(-1).usage.total_tokens, 7);
});

test('embeddings: float and base64 (little-endian float32), dimensions checked, usage recorded', async () => {
  usage.length = 0;
  const floats = await (await post('/embeddings', { model: 'tiny', input: ['a', 'b'] })).json();
  assert.deepEqual(floats, {
    object: 'list',
    data: [0, 1].map((i) => ({
      object: 'embedding',
      index: i,
      embedding: Array.from(Float32Array.from([i + 0.1, -2.5, 1e-8])),
    })),
    model: 'tiny',
    usage: { prompt_tokens: 3, total_tokens: 3 },
  });
  const encoded = await (
    await post('/embeddings', { model: 'tiny', input: 'a', encoding_format: 'base64' })
  ).json();
  const bytes = Buffer.from(encoded.data[0].embedding, 'base64');
  assert.deepEqual(
    [0, 1, 2].map((i) => bytes.readFloatLE(i * 4)),
    floats.data[0].embedding,
  );
  assert.equal(usage.length, 2);
  const wrong = await post('/embeddings', { model: 'tiny', input: 'a', dimensions: 2 });
  assert.equal(wrong.status, 400);
  assert.equal((await wrong.json()).error.param, 'dimensions');
  assert.equal((await post('/embeddings', { model: 'tiny', input: 'a', dimensions: 3 })).status, 200);
});
