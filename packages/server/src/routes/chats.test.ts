// The chat API through the whole app in-process (`inject`), answering with the tiny chat model (context 64
// tokens, so conversations stay short): create, send and stream, reload, search, edit, regenerate, export,
// delete, usage; then, on loopback with a scripted runtime, a client that disconnects mid-answer. Another
// user's chats are covered end to end in test/e2e/access-control.test.ts.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { configWithDefaults } from '../config.ts';
import type { AppContext } from '../context.ts';
import { openPglite, type DatabaseHandle } from '../db/database.ts';
import { messages, users } from '../db/schema.ts';
import { JobHub } from '../jobs/events.ts';
import { Outbound } from '../outbound/outbound.ts';
import { SafetyPolicies } from '../safety/policies.ts';
import type { ModelRegistry, RegisteredModel } from '../registry/registry.ts';
import type { GenerationEvent, GenerationOptions, Runtime } from '../serve/runtime.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { chatRoutes } from './chats.ts';

interface Chat {
  id: string;
  title: string;
  modelId: string | null;
  settings: { systemPrompt: string; temperature: number; maxTokens: number };
  createdAt: string;
  updatedAt: string;
}

interface Message {
  id: string;
  role: string;
  content: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: string;
}

interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** The events of an SSE body (each `event:` + one `data:` line, as the server writes them). */
function events(body: string): StreamEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? 'null';
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

const settings = { systemPrompt: '', temperature: 0, maxTokens: 8 };

describe('chat API', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-chats-'));
  let app: FastifyInstance;
  let headers: Record<string, string>;

  async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
    return app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  }

  /** Streams an answer; checks the SSE framing and that the stream ends with a saved answer. */
  async function answer(url: string, payload: object) {
    const response = await call('POST', url, payload);
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    const stream = events(response.body);
    const finished = stream.at(-1);
    assert.equal(finished?.event, 'message-finished', response.body);
    const text = stream
      .filter((e) => e.event === 'text-delta')
      .map((e) => String(e.data.text))
      .join('');
    const message = finished.data.message as Message;
    assert.equal(message.content, text, 'the saved answer is the streamed text');
    assert.ok(['stop', 'length'].includes(String(finished.data.finishReason)));
    return { stream, message };
  }

  before(async () => {
    const { gguf } = await tinyModel();
    mkdirSync(join(home, 'models'), { recursive: true });
    copyFileSync(gguf, join(home, 'models', 'tiny.gguf'));
    app = await buildApp({ home, logLevel: 'warn' });
    const registered = await app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'ada@example.com', password: 'a long enough password', name: 'Ada' },
    });
    assert.equal(registered.statusCode, 201, registered.body);
    const cookie = registered.cookies.find((c) => c.name === 'ownlm_session');
    assert.ok(cookie);
    headers = {
      cookie: `ownlm_session=${cookie.value}`,
      'x-csrf-token': (registered.json() as { csrfToken: string }).csrfToken,
    };
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('create validates and fills defaults', async () => {
    const created = await call('POST', '/api/chats', {});
    assert.equal(created.statusCode, 201, created.body);
    const chat = created.json() as Chat;
    assert.match(chat.id, /^chat_/);
    assert.equal(chat.title, 'New chat');
    assert.equal(chat.modelId, null);
    assert.deepEqual(chat.settings, { systemPrompt: '', temperature: 0.7, maxTokens: 512 });

    for (const [body, param] of [
      [{ settings: { temperature: 2.5 } }, 'settings.temperature'],
      [{ settings: { maxTokens: 1.5 } }, 'settings.maxTokens'],
      [{ settings: { maxTokens: 40_000 } }, 'settings.maxTokens'],
      [{ settings: { systemPrompt: 'x'.repeat(20_001) } }, 'settings.systemPrompt'],
      [{ title: 'x'.repeat(201) }, 'title'],
      [{ modelId: 'no-such-model' }, 'modelId'],
    ] as const) {
      const refused = await call('POST', '/api/chats', body);
      assert.equal(refused.statusCode, 400, refused.body);
      const { error } = refused.json() as { error: { param: string; code: string } };
      assert.equal(error.param, param);
      assert.equal(error.code, 'invalid_request');
    }

    const named = await call('POST', '/api/chats', { modelId: 'tiny', settings: { maxTokens: 4 } });
    assert.equal(named.statusCode, 201, named.body);
    const models = (await call('GET', '/api/models')).json() as { models: { id: string }[] };
    assert.equal((named.json() as Chat).modelId, models.models[0]?.id, 'stored as the version id');
    assert.equal((named.json() as Chat).settings.temperature, 0.7, 'settings merge over the defaults');
  });

  test('a conversation: send, reload, search, edit, regenerate, export, delete, usage', async () => {
    const chat = (await call('POST', '/api/chats', { settings })).json() as Chat;
    const other = (await call('POST', '/api/chats', { title: 'Zebra notes', settings })).json() as Chat;

    const refused = await call('POST', `/api/chats/${chat.id}/messages`, { content: '' });
    assert.equal(refused.statusCode, 400, 'an empty message is refused before anything is saved');

    const sent = await answer(`/api/chats/${chat.id}/messages`, { content: 'The giraffe ate leaves.' });
    assert.equal(sent.stream[0]?.event, 'message-created');
    const question = sent.stream[0].data.message as Message;
    assert.equal(question.role, 'user');
    assert.equal(question.content, 'The giraffe ate leaves.');
    assert.deepEqual(
      [question.promptTokens, question.completionTokens],
      [null, null],
      'a question has no counts',
    );
    assert.equal(sent.message.role, 'assistant');
    assert.equal(sent.message.model, 'tiny');
    assert.ok(sent.message.promptTokens! > 0 && sent.message.completionTokens! > 0);

    const reloaded = (await call('GET', `/api/chats/${chat.id}`)).json() as {
      chat: Chat;
      messages: Message[];
    };
    assert.equal(reloaded.chat.title, 'The giraffe ate leaves.', 'the first message names the chat');
    assert.deepEqual(
      reloaded.messages.map((m) => [m.id, m.role]),
      [
        [question.id, 'user'],
        [sent.message.id, 'assistant'],
      ],
    );
    assert.deepEqual(reloaded.messages[1], sent.message);

    const search = async (q: string) =>
      ((await call('GET', `/api/chats?q=${encodeURIComponent(q)}`)).json() as { chats: Chat[] }).chats.map(
        (c) => c.id,
      );
    assert.deepEqual(await search('leaves'), [chat.id], 'found by a word of a message');
    assert.deepEqual(await search('zebra'), [other.id], 'found by a word of the title');
    assert.deepEqual(await search('nothing-like-this'), []);
    const all = ((await call('GET', '/api/chats')).json() as { chats: Chat[] }).chats.map((c) => c.id);
    assert.equal(all[0], chat.id, 'newest activity first');

    const edited = await answer(`/api/chats/${chat.id}/messages/${question.id}/edit`, {
      content: 'Ines sings.',
    });
    assert.equal(edited.stream[0]?.event, 'message-created');
    assert.deepEqual(
      [(edited.stream[0].data.message as Message).id, (edited.stream[0].data.message as Message).content],
      [question.id, 'Ines sings.'],
      'the same message with its new text',
    );
    const editAnswer = (await call('POST', `/api/chats/${chat.id}/messages/${edited.message.id}/edit`, {
      content: 'x',
    })) as { statusCode: number };
    assert.equal(editAnswer.statusCode, 400, 'an answer cannot be edited');
    assert.equal(
      (await call('POST', `/api/chats/${chat.id}/messages/msg_nope/edit`, { content: 'x' })).statusCode,
      404,
    );

    const regenerated = await answer(`/api/chats/${chat.id}/regenerate`, {});
    assert.ok(!regenerated.stream.some((e) => e.event === 'message-created'));
    const after = (await call('GET', `/api/chats/${chat.id}`)).json() as { messages: Message[] };
    assert.deepEqual(
      after.messages.map((m) => [m.id, m.content]),
      [
        [question.id, 'Ines sings.'],
        [regenerated.message.id, regenerated.message.content],
      ],
      'the edit dropped the old answer, regenerating replaced the new one',
    );

    const renamed = await call('PATCH', `/api/chats/${chat.id}`, { title: 'Ines "sings"/ünïcode' });
    assert.equal((renamed.json() as Chat).title, 'Ines "sings"/ünïcode');
    const markdown = await call('GET', `/api/chats/${chat.id}/export?format=markdown`);
    assert.equal(markdown.headers['content-type'], 'text/markdown; charset=utf-8');
    assert.equal(markdown.headers['content-disposition'], 'attachment; filename="Ines-singsunicode.md"');
    assert.equal(
      markdown.body,
      `# Ines "sings"/ünïcode\n\n**User**\n\nInes sings.\n\n**Assistant**\n\n${regenerated.message.content}\n`,
    );
    const json = await call('GET', `/api/chats/${chat.id}/export?format=json`);
    assert.match(String(json.headers['content-type']), /^application\/json/);
    assert.equal(json.headers['content-disposition'], 'attachment; filename="Ines-singsunicode.json"');
    const exported = json.json() as { title: string; model: string; exportedAt: string; messages: object[] };
    assert.equal(exported.title, 'Ines "sings"/ünïcode');
    assert.equal(exported.model, 'tiny');
    assert.ok(!Number.isNaN(Date.parse(exported.exportedAt)));
    assert.deepEqual(exported.messages, [
      { role: 'user', content: 'Ines sings.' },
      { role: 'assistant', content: regenerated.message.content },
    ]);
    const badFormat = await call('GET', `/api/chats/${chat.id}/export?format=pdf`);
    assert.equal(badFormat.statusCode, 400);
    assert.equal((badFormat.json() as { error: { param: string } }).error.param, 'format');

    const usage = (await call('GET', '/api/usage/today')).json() as {
      promptTokens: number;
      completionTokens: number;
    };
    assert.ok(usage.promptTokens > 0 && usage.completionTokens > 0, JSON.stringify(usage));

    assert.equal((await call('DELETE', `/api/chats/${chat.id}`)).statusCode, 204);
    assert.equal((await call('GET', `/api/chats/${chat.id}`)).statusCode, 404);
    assert.deepEqual(await search('leaves'), []);
  });

  test('a failed generation is an error event after the saved question', async () => {
    const chat = (await call('POST', '/api/chats', { settings })).json() as Chat;
    // Far beyond the tiny model's 64-token context.
    const response = await call('POST', `/api/chats/${chat.id}/messages`, {
      content: 'The giraffe ate leaves. '.repeat(40),
    });
    assert.equal(response.statusCode, 200);
    const stream = events(response.body);
    assert.deepEqual(
      stream.map((e) => e.event),
      ['message-created', 'error'],
    );
    assert.ok(String(stream[1].data.message).length > 0);
    const saved = (await call('GET', `/api/chats/${chat.id}`)).json() as { messages: Message[] };
    assert.deepEqual(
      saved.messages.map((m) => m.role),
      ['user'],
    );
  });
});

describe('chat API: one answer at a time, and a client that disconnects', () => {
  let app: FastifyInstance;
  let handle: DatabaseHandle;
  let url: string;
  const userId = 'user_1';
  const model = {
    versionId: 'mv_1',
    name: 'scripted',
    ownerId: null,
    aliases: [],
  } as unknown as RegisteredModel;
  let seenSignal: AbortSignal | null = null;

  /** Writes one piece, then waits until aborted and finishes as cancelled, as the llama runtime does. */
  async function* untilAborted(options: GenerationOptions): AsyncGenerator<GenerationEvent> {
    seenSignal = options.signal;
    yield { type: 'text-delta', text: 'Half an ans' };
    await new Promise((resolve) => options.signal.addEventListener('abort', resolve, { once: true }));
    yield { type: 'finish', finishReason: 'cancelled', usage: { promptTokens: 3, completionTokens: 1 } };
  }

  before(async () => {
    handle = await openPglite('memory://');
    await handle.db
      .insert(users)
      .values({ id: userId, email: 'c@example.com', name: 'C', passwordHash: 'x', role: 'member' });
    const registry = {
      resolve: async () => model,
      defaultModel: async () => model,
    } as unknown as ModelRegistry;
    const runtime = {
      chat: (_id: string, _m: unknown, o: GenerationOptions) => untilAborted(o),
      info: async () => ({ contextLength: 64, maxTokenBytes: 16 }),
    } as unknown as Runtime;
    const ctx: AppContext = {
      config: configWithDefaults({ home: tmpdir() }),
      db: handle.db,
      registry,
      runtime,
      jobHub: new JobHub(),
      jobCompletions: {},
      outbound: new Outbound({ allow: [] }),
      safety: SafetyPolicies.of(handle.db),
    };
    app = Fastify();
    app.decorateRequest('actor', null);
    app.addHook('onRequest', async (request) => {
      request.actor = { userId, role: 'member', apiKeyId: null };
    });
    await app.register(chatRoutes(ctx), { prefix: '/api' });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await app?.close();
    await handle?.close();
  });

  test('a second answer is refused while one is written; disconnecting stops it and keeps the partial answer', async () => {
    const created = await fetch(`${url}/api/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const chat = (await created.json()) as Chat;
    const controller = new AbortController();
    const response = await fetch(`${url}/api/chats/${chat.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Tell me' }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let received = '';
    while (!received.includes('event: text-delta')) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the answer streams a text delta first: ${received}`);
      received += new TextDecoder().decode(value);
    }
    for (const path of ['messages', 'regenerate']) {
      const second = await fetch(`${url}/api/chats/${chat.id}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'And another' }),
      });
      assert.equal(second.status, 409, `a second answer (${path}) while one is written is refused`);
    }
    controller.abort();

    let saved: Message[] = [];
    for (let i = 0; i < 100 && saved.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      saved = ((await (await fetch(`${url}/api/chats/${chat.id}`)).json()) as { messages: Message[] })
        .messages;
    }
    assert.equal(seenSignal?.aborted, true, 'the generation was told to stop');
    assert.deepEqual(
      saved.map((m) => [m.role, m.content, m.model, m.completionTokens]),
      [
        ['user', 'Tell me', null, null],
        ['assistant', 'Half an ans', 'scripted', 1],
      ],
    );
    const [row] = await handle.db.select().from(messages).where(eq(messages.id, saved[1]!.id));
    assert.equal(row?.finishReason, 'cancelled');
  });
});
