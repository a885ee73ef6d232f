// The OpenAI-compatible API end to end with the official `openai` client (fixtures from reality):
// the real server in this process on a loopback port, a temporary data folder holding the tiny chat model
// (vocabulary 384, context 64), an API key made over HTTP like a user would. The whole suite runs twice: on
// embedded PGlite and on a real PostgreSQL server.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { configWithDefaults } from '../../packages/server/src/config.ts';
import { startTestPostgres, type TestPostgres } from '../../packages/server/src/testing/postgres.ts';
import { tinyModel } from '../../packages/server/src/testing/tiny-model.ts';
import { buildApp } from '../../packages/server/src/app.ts';

interface App {
  listen(options: { host: string; port: number }): Promise<string>;
  close(): Promise<void>;
  server: Server;
}

/** A session for the key routes: the cookie and the CSRF token of a freshly registered user. */
interface Session {
  cookie: string;
  csrf: string;
}

async function register(url: string, email: string): Promise<Session> {
  const response = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'a long enough password', name: 'Ada' }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('ownlm_session='));
  assert.ok(cookie, 'registering signs in');
  return { cookie, csrf: ((await response.json()) as { csrfToken: string }).csrfToken };
}

async function keys(url: string, session: Session, method: string, path = '', body?: unknown) {
  return fetch(`${url}/api/keys${path}`, {
    method,
    headers: {
      cookie: session.cookie,
      'x-csrf-token': session.csrf,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function createKey(
  url: string,
  session: Session,
  name: string,
): Promise<{ id: string; secret: string }> {
  const response = await keys(url, session, 'POST', '', { name });
  assert.equal(response.status, 201, await response.clone().text());
  const { key, secret } = (await response.json()) as { key: { id: string }; secret: string };
  return { id: key.id, secret };
}

/** The promise rejects with OpenAI.APIError carrying this status (and code and param, when given). */
async function refused(
  promise: Promise<unknown>,
  status: number,
  expected: { code?: string; param?: string | null } = {},
): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OpenAI.APIError, `an APIError, got ${String(error)}`);
    assert.equal(error.status, status, error.message);
    if (expected.code !== undefined) assert.equal(error.code, expected.code, error.message);
    if (expected.param !== undefined) assert.equal(error.param, expected.param, error.message);
    return error;
  }
  assert.fail(`expected a ${status} error`);
}

// Short conversations: the tiny model's context is 64 tokens for prompt and answer together.
const question = [{ role: 'user' as const, content: 'The giraffe ate leaves.' }];
/** The tiny model was trained to answer in `{"name": …, "next": …}` after this system message. */
const jsonQuestion = [
  { role: 'system' as const, content: 'Reply in JSON.' },
  { role: 'user' as const, content: 'Ines sings.' },
];

for (const database of ['PGlite', 'PostgreSQL'] as const) {
  describe(`the OpenAI API through the official client (${database})`, () => {
    const home = mkdtempSync(join(tmpdir(), 'ownlm-openai-'));
    let postgres: TestPostgres | null = null;
    let app: App;
    let url: string;
    let session: Session;
    let client: OpenAI;

    before(async () => {
      const { gguf } = await tinyModel();
      mkdirSync(join(home, 'models'), { recursive: true });
      copyFileSync(gguf, join(home, 'models', 'tiny.gguf'));
      if (database === 'PostgreSQL') postgres = await startTestPostgres();
      app = await buildApp({ home, databaseUrl: postgres?.url ?? null, logLevel: 'warn' });
      await app.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      session = await register(url, `ada-${database.toLowerCase()}@example.com`);
      const { secret } = await createKey(url, session, 'tests');
      client = new OpenAI({ baseURL: `${url}/v1`, apiKey: secret, maxRetries: 0, timeout: 60_000 });
    });

    after(async () => {
      await app?.close();
      if (postgres) await postgres.stop();
      rmSync(home, { recursive: true, force: true });
    });

    test('models.list names the model, name:version and the default alias; retrieve resolves one', async () => {
      const ids = [];
      for await (const model of client.models.list()) {
        assert.equal(model.object, 'model');
        assert.equal(model.owned_by, 'ownlm');
        assert.ok(Number.isInteger(model.created));
        ids.push(model.id);
      }
      for (const id of ['tiny', 'tiny:1', 'default'])
        assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
      assert.equal((await client.models.retrieve('tiny:1')).id, 'tiny:1');
      await refused(client.models.retrieve('no-such-model'), 404, { code: 'model_not_found' });
    });

    test('chat, not streamed and streamed with include_usage, give the same greedy answer', async () => {
      const whole = await client.chat.completions.create({
        model: 'tiny',
        messages: question,
        temperature: 0,
        seed: 1,
      });
      assert.match(whole.id, /^chatcmpl-/);
      assert.equal(whole.object, 'chat.completion');
      assert.equal(whole.model, 'tiny', 'the model field echoes the request');
      const [choice] = whole.choices;
      assert.equal(choice.message.role, 'assistant');
      assert.ok(choice.message.content && choice.message.content.length > 0);
      assert.ok(['stop', 'length'].includes(choice.finish_reason));
      assert.ok(whole.usage && whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0);
      assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);

      const stream = await client.chat.completions.create({
        model: 'tiny',
        messages: question,
        temperature: 0,
        seed: 1,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | null = null;
      const ids = new Set<string>();
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        ids.add(chunk.id);
        if (chunk.usage) {
          assert.deepEqual(chunk.choices, [], 'the usage chunk has no choices');
          usage = chunk.usage;
          continue;
        }
        if (chunks === 1) assert.deepEqual(chunk.choices[0].delta, { role: 'assistant', content: '' });
        text += chunk.choices[0].delta.content ?? '';
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      assert.equal(ids.size, 1, 'one id across the chunks');
      assert.equal(text, choice.message.content);
      assert.equal(finish, choice.finish_reason);
      assert.deepEqual(usage, whole.usage);
    });

    test('stop strings cut the answer before the stop text; max_tokens ends it with length', async () => {
      const greedy = { model: 'tiny', messages: question, temperature: 0 };
      const full = (await client.chat.completions.create(greedy)).choices[0].message.content!;
      const at = Math.floor(full.length / 2);
      const stop = full.slice(at, at + 3);
      const cut = await client.chat.completions.create({ ...greedy, stop: [stop, 'never appears'] });
      assert.equal(cut.choices[0].message.content, full.slice(0, full.indexOf(stop)));
      assert.equal(cut.choices[0].finish_reason, 'stop');

      const short = await client.chat.completions.create({ ...greedy, max_tokens: 3 });
      assert.equal(short.choices[0].finish_reason, 'length');
      assert.equal(short.usage?.completion_tokens, 3);
      const shorter = await client.chat.completions.create({
        ...greedy,
        max_completion_tokens: 2,
        max_tokens: 9,
      });
      assert.equal(shorter.usage?.completion_tokens, 2, 'max_completion_tokens wins over max_tokens');
    });

    test('the same seed samples the same answer', async () => {
      const sampled = { model: 'tiny', messages: question, temperature: 1, seed: 42 };
      const first = await client.chat.completions.create(sampled);
      const second = await client.chat.completions.create(sampled);
      assert.equal(first.choices[0].message.content, second.choices[0].message.content);
    });

    test('response_format json_object and json_schema give JSON that parses (and has the keys)', async () => {
      const object = await client.chat.completions.create({
        model: 'tiny',
        messages: jsonQuestion,
        temperature: 0,
        response_format: { type: 'json_object' },
      });
      assert.equal(typeof JSON.parse(object.choices[0].message.content!), 'object');
      const schema = await client.chat.completions.create({
        model: 'tiny',
        messages: jsonQuestion,
        temperature: 0,
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'person',
            strict: true,
            schema: {
              type: 'object',
              properties: { name: { type: 'string' }, next: { type: 'string' } },
              required: ['name', 'next'],
              additionalProperties: false,
            },
          },
        },
      });
      const parsed = JSON.parse(schema.choices[0].message.content!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(parsed).sort(), ['name', 'next']);
      assert.equal(typeof parsed.name, 'string');
    });

    test('completions: text_completion with at most 16 tokens by default; echo', async () => {
      const completion = await client.completions.create({ model: 'tiny', prompt: 'The', temperature: 0 });
      assert.match(completion.id, /^cmpl-/);
      assert.equal(completion.object, 'text_completion');
      assert.ok(completion.usage!.completion_tokens > 0 && completion.usage!.completion_tokens <= 16);
      const echoed = await client.completions.create({
        model: 'tiny',
        prompt: 'The',
        temperature: 0,
        echo: true,
      });
      assert.equal(echoed.choices[0].text, `The${completion.choices[0].text}`);
      const stream = await client.completions.create({
        model: 'tiny',
        prompt: 'The',
        temperature: 0,
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
      assert.equal(text, completion.choices[0].text);
    });

    test('embeddings: float, and base64 decoded by the client, are the same float32 vectors', async () => {
      const input = ['hello there', 'the old map'];
      const floats = await client.embeddings.create({ model: 'tiny', input, encoding_format: 'float' });
      // Without encoding_format the client asks for base64 and decodes it.
      const decoded = await client.embeddings.create({ model: 'tiny', input });
      assert.equal(floats.object, 'list');
      assert.equal(floats.data.length, 2);
      assert.ok(floats.usage.prompt_tokens > 0);
      for (const [i, item] of floats.data.entries()) {
        assert.equal(item.index, i);
        assert.ok(item.embedding.length > 0);
        assert.deepEqual(Array.from(decoded.data[i].embedding), item.embedding.map(Math.fround));
      }
      const raw = await client.embeddings.create({
        model: 'tiny',
        input: input[0],
        encoding_format: 'base64',
      });
      const bytes = Buffer.from(raw.data[0].embedding as unknown as string, 'base64');
      assert.equal(bytes.length, floats.data[0].embedding.length * 4);
      assert.equal(bytes.readFloatLE(0), floats.data[0].embedding[0]);
      await refused(client.embeddings.create({ model: 'tiny', input: 'x', dimensions: 3 }), 400, {
        param: 'dimensions',
      });
    });

    test('errors: unknown model 404, bad key 401, revoked key 401, n=2 400', async () => {
      await refused(client.chat.completions.create({ model: 'nope', messages: question }), 404, {
        code: 'model_not_found',
        param: 'model',
      });
      const stranger = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-not-a-key', maxRetries: 0 });
      await refused(stranger.models.list(), 401, { code: 'invalid_api_key' });
      const { id, secret } = await createKey(url, session, 'to revoke');
      const revocable = new OpenAI({ baseURL: `${url}/v1`, apiKey: secret, maxRetries: 0 });
      await revocable.models.list();
      const revoked = await keys(url, session, 'DELETE', `/${id}`);
      assert.ok(revoked.status < 300, `revoking: ${revoked.status}`);
      await refused(revocable.chat.completions.create({ model: 'tiny', messages: question }), 401, {
        code: 'invalid_api_key',
      });
      await refused(client.chat.completions.create({ model: 'tiny', messages: question, n: 2 }), 400, {
        param: 'n',
      });
    });

    test('hostile fields are 400 (or 501) naming the field, and the server keeps answering', async () => {
      const cases: [Record<string, unknown>, number, string][] = [
        [{ temperature: 'NaN' }, 400, 'temperature'],
        [{ temperature: 5 }, 400, 'temperature'],
        [{ temperature: [1] }, 400, 'temperature'],
        [{ top_p: 0 }, 400, 'top_p'],
        [{ max_tokens: -1 }, 400, 'max_tokens'],
        [{ max_tokens: 1e9 }, 400, 'max_tokens'],
        [{ max_completion_tokens: 2.5 }, 400, 'max_completion_tokens'],
        [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 400, 'stop'],
        [{ stop: [1] }, 400, 'stop[0]'],
        [{ seed: 1.5 }, 400, 'seed'],
        [{ seed: 2 ** 60 }, 400, 'seed'],
        [{ stream: 'yes' }, 400, 'stream'],
        [{ stream_options: { include_usage: true } }, 400, 'stream_options'],
        [{ messages: 'hi' }, 400, 'messages'],
        [{ messages: [] }, 400, 'messages'],
        [{ messages: [{ role: 'root', content: 'x' }] }, 400, 'messages[0].role'],
        [{ messages: [{ role: 'tool', content: 'x', tool_call_id: 'a' }] }, 501, 'messages[0].role'],
        [{ model: ['tiny'] }, 400, 'model'],
        [{ model: 'x'.repeat(100_000) }, 400, 'model'],
        [{ response_format: { type: 'xml' } }, 400, 'response_format.type'],
        [
          { response_format: { type: 'json_schema', json_schema: { name: 'bad name', schema: {} } } },
          400,
          'response_format.json_schema.name',
        ],
        [{ presence_penalty: 9 }, 400, 'presence_penalty'],
        [{ logprobs: true }, 501, 'logprobs'],
        [{ logit_bias: { '1': 5 } }, 501, 'logit_bias'],
        [{ tools: [{ type: 'function', function: { name: 'f' } }] }, 501, 'tools'],
      ];
      for (const [fields, status, param] of cases)
        await refused(
          client.chat.completions.create({ model: 'tiny', messages: question, ...fields } as never),
          status,
          { param },
        );
      await refused(client.completions.create({ model: 'tiny', prompt: [1, 2, 3] }), 501, {
        param: 'prompt',
      });
      await refused(client.completions.create({ model: 'tiny', prompt: 'x', suffix: 'y' }), 501, {
        param: 'suffix',
      });
      await refused(client.embeddings.create({ model: 'tiny', input: [] }), 400, { param: 'input' });
      // JSON that parses to Infinity, and JSON that does not parse, sent as raw bytes.
      const raw = (body: string) =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
          body,
        });
      const infinite = await raw(
        '{"model":"tiny","messages":[{"role":"user","content":"x"}],"temperature":1e309}',
      );
      assert.equal(infinite.status, 400);
      assert.equal(((await infinite.json()) as { error: { param: string } }).error.param, 'temperature');
      const broken = await raw('{"model":"tiny","messages":[');
      assert.equal(broken.status, 400);
      // Content nested 100,000 arrays deep (more than JSON.stringify or a recursive walk could take).
      const depth = 100_000;
      const deep = await raw(
        `{"model":"tiny","messages":[{"role":"user","content":${'['.repeat(depth)}"x"${']'.repeat(depth)}}]}`,
      );
      assert.equal(deep.status, 400);
      assert.equal(
        ((await deep.json()) as { error: { param: string } }).error.param,
        'messages[0].content[0]',
      );
      // A prompt longer than the context.
      await refused(
        client.chat.completions.create({
          model: 'tiny',
          messages: [{ role: 'user', content: 'giraffe '.repeat(80) }],
        }),
        400,
        { code: 'context_length_exceeded' },
      );
      const fine = await client.chat.completions.create({
        model: 'tiny',
        messages: question,
        max_tokens: 2,
      });
      assert.equal(fine.usage?.completion_tokens, 2);
    });

    test('a body over the limit is 413', async () => {
      const limit = configWithDefaults({ home }).bodyLimitBytes;
      await refused(
        client.chat.completions.create({
          model: 'tiny',
          messages: [{ role: 'user', content: 'x'.repeat(limit + 1024) }],
        }),
        413,
        { code: 'payload_too_large' },
      );
    });

    test('streams aborted by the client mid-way release their sequences: the next request is answered', async () => {
      // More aborted streams than the model has sequences (4 by default).
      for (let i = 0; i < 6; i++) {
        const controller = new AbortController();
        const stream = await client.completions.create(
          { model: 'tiny', prompt: 'The', max_tokens: 60, stream: true },
          { signal: controller.signal },
        );
        // The client ends the iteration quietly once its signal is aborted.
        let chunks = 0;
        for await (const _chunk of stream) if (++chunks === 2) controller.abort();
        assert.ok(chunks >= 2 && chunks < 60, `aborted after ${chunks} of 60 chunks`);
      }
      const after = await client.chat.completions.create({
        model: 'tiny',
        messages: question,
        max_tokens: 4,
        stream: true,
      });
      let text = '';
      for await (const chunk of after) text += chunk.choices[0]?.delta.content ?? '';
      assert.ok(text.length > 0);
    });
  });
}
