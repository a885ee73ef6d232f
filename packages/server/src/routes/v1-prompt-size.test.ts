// A prompt whose bytes cannot fit the model's context is refused as OpenAI refuses a too-long one
// (400 `context_length_exceeded` naming `messages` or `prompt`) before the runtime sees it, so nothing tokenizes
// megabytes; one within the bound goes on to the runtime, which checks its tokens. The /v1 plugin in a bare
// Fastify with a runtime that records what it is asked.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { enforceAccess } from '../auth/access.ts';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors.ts';
import type { ModelRegistry, RegisteredModel } from '../registry/registry.ts';
import type { GenerationEvent, Runtime } from '../serve/runtime.ts';
import { v1Routes } from './v1.ts';

const CONTEXT = 64;
/** The longest vocabulary entry of the model, in bytes. */
const TOKEN_BYTES = 8;
const LIMIT = CONTEXT * TOKEN_BYTES;

const model = {
  versionId: 'mv_1',
  name: 'tiny',
  version: 1,
  kind: 'model',
  ownerId: null,
  aliases: ['default'],
} as unknown as RegisteredModel;

/** What the runtime was asked, besides its model info. */
const asked: string[] = [];

async function* answer(): AsyncGenerator<GenerationEvent> {
  yield { type: 'text-delta', text: 'ok' };
  yield { type: 'finish', finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 1 } };
}

const runtime: Runtime = {
  chat() {
    asked.push('chat');
    return answer();
  },
  complete() {
    asked.push('complete');
    return answer();
  },
  async embed() {
    throw new Error('not used');
  },
  async tokenize() {
    asked.push('tokenize');
    return [];
  },
  async countTokens() {
    asked.push('countTokens');
    return [];
  },
  async info() {
    return {
      contextLength: CONTEXT,
      maxTokenBytes: TOKEN_BYTES,
      chatTemplate: null,
      embeddingSize: 3,
      parameterCount: null,
    };
  },
  async unload() {},
  async close() {},
};

let app: FastifyInstance;

before(async () => {
  app = Fastify();
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    request.actor = { userId: 'u1', role: 'member', apiKeyId: 'k1' };
    enforceAccess(request);
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof AppError) return reply.status(error.status).send(error.toOpenAI());
    return reply.send(error);
  });
  const ctx = {
    config: {},
    db: { insert: () => ({ values: async () => {} }) } as unknown as Database,
    registry: { resolve: async () => model } as unknown as ModelRegistry,
    runtime,
    // No safety policy in force.
    safety: { forModel: async () => null },
  } as unknown as AppContext;
  await app.register(v1Routes(ctx), { prefix: '/v1' });
});
after(() => app.close());

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });

test('a prompt of more bytes than the context can hold is refused before the runtime tokenizes it', async () => {
  asked.length = 0;
  // 'é' is two bytes: LIMIT / 2 + 1 characters are just over the limit.
  const refused = await post('/v1/completions', { model: 'tiny', prompt: 'é'.repeat(LIMIT / 2 + 1) });
  assert.equal(refused.statusCode, 400, refused.body);
  const { error } = refused.json() as {
    error: { code: string; param: string; type: string; message: string };
  };
  assert.deepEqual(
    [error.code, error.param, error.type],
    ['context_length_exceeded', 'prompt', 'invalid_request_error'],
  );
  assert.match(
    error.message,
    new RegExp(`${LIMIT + 2} bytes.*context of ${CONTEXT} tokens.*shorten the prompt`),
  );

  // Messages count together: two halves of the limit and a byte more.
  const messages = [
    { role: 'system', content: 'x'.repeat(LIMIT / 2) },
    { role: 'user', content: 'y'.repeat(LIMIT / 2 + 1) },
  ];
  const chat = await post('/v1/chat/completions', { model: 'tiny', messages });
  assert.equal(chat.statusCode, 400, chat.body);
  assert.deepEqual(
    [chat.json().error.code, chat.json().error.param],
    ['context_length_exceeded', 'messages'],
  );
  assert.deepEqual(asked, [], 'the runtime was asked for nothing');
});

test('a prompt within the bound goes on to the runtime', async () => {
  asked.length = 0;
  const completion = await post('/v1/completions', { model: 'tiny', prompt: 'x'.repeat(LIMIT) });
  assert.equal(completion.statusCode, 200, completion.body);
  const chat = await post('/v1/chat/completions', {
    model: 'tiny',
    messages: [{ role: 'user', content: 'y'.repeat(LIMIT) }],
  });
  assert.equal(chat.statusCode, 200, chat.body);
  assert.deepEqual(asked, ['complete', 'chat']);
});
