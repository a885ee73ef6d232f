// Fine-tune preflights under load, through the app: as many are computed at once as the app has worker threads
// and the next waits its turn (with no wait allowed, 503 `overloaded`); the same question asked at once is
// computed once, and asked again it is answered from what was computed, even after the dataset's files are gone.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Random } from '@ownlm/engine';
import type { FastifyInstance } from 'fastify';
import { voiceConversation } from '../../../studio/src/finetune/finetune-fixture.ts';
import { buildApp } from '../app.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { signUp } from '../testing/users.ts';
import { THREADS } from '../threads.ts';

describe('fine-tune preflights under load', () => {
  const homes: string[] = [];
  const apps: FastifyInstance[] = [];

  /** An app that lets a preflight wait `preflightWaitMs` for its turn, with a user, the base and a dataset. */
  async function start(preflightWaitMs: number) {
    const home = mkdtempSync(join(tmpdir(), 'ownlm-preflight-limits-'));
    homes.push(home);
    mkdirSync(join(home, 'models'));
    copyFileSync((await tinyModel()).gguf, join(home, 'models', 'tiny.gguf'));
    const app = await buildApp({ home, logLevel: 'silent', jobWorkers: 0, preflightWaitMs });
    apps.push(app);
    const { headers } = await signUp(app, 'ada@example.com');
    const base = (await app.inject({ method: 'GET', url: '/api/models', headers })).json().models[0].id;
    const random = new Random(5);
    const uploaded = await app.inject({
      method: 'POST',
      url: '/api/datasets?name=voice&validation=0.2',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      payload: Array.from({ length: 40 }, () => JSON.stringify(voiceConversation(random))).join('\n'),
    });
    assert.equal(uploaded.statusCode, 201, uploaded.body);
    const dataset = uploaded.json().dataset as { id: string };
    const preflight = (params: Record<string, unknown>) =>
      app.inject({
        method: 'POST',
        url: '/api/jobs/preflight',
        headers,
        payload: {
          type: 'finetune',
          params: { base, dataset: dataset.id, batchSize: 2, epochs: 1, ...params },
        },
      });
    return { home, dataset, preflight };
  }

  let refusing: Awaited<ReturnType<typeof start>>;
  let waiting: Awaited<ReturnType<typeof start>>;
  before(async () => {
    assert.equal(THREADS, 2);
    [refusing, waiting] = await Promise.all([start(0), start(60_000)]);
  });
  after(async () => {
    await Promise.all(apps.map((app) => app.close()));
    for (const home of homes) rmSync(home, { recursive: true, force: true });
  });

  test('two are computed at once; a third waits its turn, or with no wait allowed is refused with 503', async () => {
    const ranks = [1, 2, 3];
    const answers = await Promise.all(ranks.map((rank) => refusing.preflight({ rank })));
    assert.deepEqual(
      answers.map((a) => a.statusCode).sort(),
      [200, 200, 503],
      answers.map((a) => a.body).join('\n'),
    );
    const refused = answers.find((a) => a.statusCode === 503)!.json().error;
    assert.equal(refused.code, 'overloaded');
    assert.match(refused.message, /2 fine-tune preflights are being computed.*retry shortly/);

    // The same question three times at once is one computation: no third turn is needed.
    const same = await Promise.all(ranks.map(() => refusing.preflight({ rank: 5 })));
    assert.deepEqual(
      same.map((a) => a.statusCode),
      [200, 200, 200],
    );
    assert.deepEqual(same[1]!.json(), same[0]!.json());

    const waited = await Promise.all(ranks.map((rank) => waiting.preflight({ rank })));
    assert.deepEqual(
      waited.map((a) => a.statusCode),
      [200, 200, 200],
    );
  });

  test('the same base, dataset and settings are answered from the first answer', async () => {
    const { home, dataset, preflight } = waiting;
    const first = await preflight({ rank: 4 });
    assert.equal(first.statusCode, 200, first.body);
    // The dataset's files are gone: only an answer already computed can be given.
    rmSync(join(home, 'datasets', dataset.id, 'train.jsonl'));
    const again = await preflight({ rank: 4 });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), first.json(), 'the same estimate, its measured time included');
    const other = await preflight({ rank: 8 });
    assert.equal(other.statusCode, 400, 'other settings are computed, and the files are missing');
    assert.match(other.json().error.message, /^preflight: .*train\.jsonl/);
  });
});
