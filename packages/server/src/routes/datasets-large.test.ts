// A large dataset through the real server on loopback, with the tiny chat model as the default model (its
// tokenizer counts the statistics): the upload streams to a file and is parsed, counted and stored off the event
// loop, so the session route answers meanwhile; a preview reads only its page through the split's line index
// (written at upload, written again when missing or stale); the uploaded file is removed, refused or not.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { signUp } from '../testing/users.ts';

interface Dataset {
  id: string;
  conversations: number;
  trainConversations: number;
  stats: { tokenCounter: string };
}

interface Conversation {
  messages: { role: string; content: string }[];
}

const MB = 2 ** 20;

/** About 4 MB of different conversations: llama.cpp takes seconds to count their tokens. */
const lines = Array.from({ length: 5000 }, (_, i) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Question ${i}: where does Greta go after she meets Hugo at the river?` },
      {
        role: 'assistant',
        content: `Answer ${i}: ${'She follows the road north and reaches the hills by night. '.repeat(12)}`,
      },
    ],
  }),
);

describe('a large dataset', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-datasets-large-'));
  let app: FastifyInstance;
  let url: string;
  let headers: Record<string, string>;
  let dataset: Dataset;

  before(async () => {
    mkdirSync(join(home, 'models'));
    copyFileSync((await tinyModel()).gguf, join(home, 'models', 'tiny.gguf'));
    app = await buildApp({ home, logLevel: 'silent', threads: 1, datasetLimitBytes: 6 * MB });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    ({ headers } = await signUp(app, 'ada@example.com'));
  });
  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const upload = (body: string) =>
    fetch(`${url}/api/datasets?name=large&validation=0.1`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      body,
    });

  test('is stored off the event loop: the session route answers while it is parsed and counted', async () => {
    const body = lines.join('\n');
    assert.ok(body.length > 4 * MB);
    let stored = false;
    const uploading = upload(body).finally(() => (stored = true));
    // Client and server share this event loop: any time it is held shows as a long wait between two answers.
    const answeredAt = [performance.now()];
    while (!stored) {
      assert.equal((await fetch(`${url}/api/session`)).status, 200);
      answeredAt.push(performance.now());
      await sleep(20);
    }
    const response = await uploading;
    answeredAt.push(performance.now());
    const waits = answeredAt.slice(1).map((at, i) => at - answeredAt[i]!);
    assert.equal(response.status, 201, await response.clone().text());
    ({ dataset } = (await response.json()) as { dataset: Dataset });
    assert.equal(dataset.conversations, lines.length);
    assert.equal(dataset.stats.tokenCounter, 'tokenizer');
    // Counting these tokens on the event loop held it for seconds; a generous bound for a busy machine.
    assert.ok(waits.length >= 5, `the upload took only ${waits.length} session requests`);
    const longest = Math.max(...waits);
    assert.ok(longest < 1000, `the session route was not answered for ${longest.toFixed(0)} ms`);
    assert.deepEqual(readdirSync(join(home, 'uploads')), [], 'the uploaded file is removed');
  });

  test('a preview reads its page through the line index, not the whole split', async () => {
    const folder = join(home, 'datasets', dataset.id);
    const train = join(folder, 'train.jsonl');
    assert.ok(existsSync(`${train}.index`) && existsSync(join(folder, 'validation.jsonl.index')));
    const preview = async (query: string) => {
      const response = await app.inject({
        method: 'GET',
        url: `/api/datasets/${dataset.id}/preview?${query}`,
        headers,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as { conversations: Conversation[]; total: number };
    };
    const first = await preview('offset=0&limit=3');
    assert.equal(first.total, dataset.trainConversations);
    const stored = readFileSync(train, 'utf8').split('\n').slice(0, -1);
    assert.deepEqual(
      first.conversations,
      stored.slice(0, 3).map((line) => JSON.parse(line)),
    );

    // A broken line outside the page, of the same length: the page and the count do not change.
    const broken = [...stored];
    broken[broken.length - 1] = 'x'.repeat(Buffer.byteLength(broken.at(-1)!));
    writeFileSync(train, `${broken.join('\n')}\n`);
    assert.deepEqual(await preview('offset=0&limit=3'), first);
    const middle = await preview('offset=2000&limit=2');
    assert.deepEqual(
      middle.conversations,
      stored.slice(2000, 2002).map((line) => JSON.parse(line)),
    );
    const last = await app.inject({
      method: 'GET',
      url: `/api/datasets/${dataset.id}/preview?offset=${first.total - 1}`,
      headers,
    });
    assert.equal(last.statusCode, 500, 'the broken line is found when its page is read');
    assert.match(last.json().error.message, new RegExp(`train\\.jsonl:${first.total}: `));

    // Without its line: the index is stale and written again. Without an index: it is written.
    writeFileSync(
      train,
      stored
        .slice(0, -1)
        .map((line) => `${line}\n`)
        .join(''),
    );
    assert.equal((await preview('offset=0&limit=1')).total, first.total - 1);
    rmSync(`${train}.index`);
    assert.equal((await preview('offset=0&limit=1')).total, first.total - 1);
    assert.ok(existsSync(`${train}.index`));
    assert.deepEqual((await preview(`offset=${first.total}`)).conversations, []);
  });

  test('a body over --dataset-limit-mb is 413 and leaves no file', async () => {
    const response = await upload(lines.concat(lines).join('\n'));
    assert.equal(response.status, 413, await response.clone().text());
    assert.match((await response.json()).error.message, /--dataset-limit-mb/);
    assert.deepEqual(readdirSync(join(home, 'uploads')), []);
  });
});
