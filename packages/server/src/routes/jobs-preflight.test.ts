// The finetune preflight through the app: the studio's estimate (computed in a worker thread from the real base
// model and uploaded dataset) with the cost at the configured rate; bad references and settings refused naming
// the field; and the job created from the same body with the schema's defaults filled in.
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

describe('finetune preflight', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-preflight-'));
  let app: FastifyInstance;
  let headers: Record<string, string>;
  let base: string;
  let dataset: string;

  before(async () => {
    const { gguf } = await tinyModel();
    mkdirSync(join(home, 'models'));
    copyFileSync(gguf, join(home, 'models', 'tiny.gguf'));
    // No local workers: the job created here stays queued.
    app = await buildApp({ home, logLevel: 'warn', jobWorkers: 0, hourlyRate: 7.2, currency: 'EUR' });
    ({ headers } = await signUp(app, 'ada@example.com'));
    base = (await app.inject({ method: 'GET', url: '/api/models', headers })).json().models[0].id;
    const random = new Random(5);
    const uploaded = await app.inject({
      method: 'POST',
      url: '/api/datasets?name=voice&validation=0.2',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      payload: Array.from({ length: 40 }, () => JSON.stringify(voiceConversation(random))).join('\n'),
    });
    assert.equal(uploaded.statusCode, 201, uploaded.body);
    dataset = uploaded.json().dataset.id;
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('estimates memory, time, tokens and cost; refuses bad input naming the field', async () => {
    const params = { base, dataset, rank: 4, batchSize: 2, epochs: 1 };
    const response = await app.inject({
      method: 'POST',
      url: '/api/jobs/preflight',
      headers,
      payload: { type: 'finetune', params },
    });
    assert.equal(response.statusCode, 200, response.body);
    const { estimate } = response.json() as {
      estimate: {
        memoryBytes: number;
        fits: boolean;
        seconds: number;
        tokens: number;
        cost: number;
        currency: string;
      };
    };
    assert.ok(estimate.memoryBytes > 0 && estimate.fits);
    assert.ok(estimate.seconds > 0 && estimate.tokens > 0, JSON.stringify(estimate));
    assert.equal(estimate.cost, (estimate.seconds / 3600) * 7.2);
    assert.equal(estimate.currency, 'EUR');

    for (const [bad, param] of [
      [{ ...params, base: 'mv_nothing' }, 'params.base'],
      [{ ...params, dataset: 'ds_nothing' }, 'params.dataset'],
      [{ ...params, rank: 0 }, 'params.rank'],
      [{ ...params, method: 'qlora' }, 'params.method'],
      [{ ...params, targets: ['q_proj', 'nope'] }, 'params.targets'],
    ] as const) {
      const refused = await app.inject({
        method: 'POST',
        url: '/api/jobs/preflight',
        headers,
        payload: { type: 'finetune', params: bad },
      });
      assert.equal(refused.statusCode, 400, `${JSON.stringify(bad)}: ${refused.body}`);
      assert.equal(refused.json().error.param, param, refused.json().error.message);
    }

    const created = await app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers,
      payload: { type: 'finetune', params },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { job } = created.json();
    assert.equal(job.state, 'queued');
    // Every setting's default from the type's schema, the given ones over them, and the base's context (the tiny
    // model's 64 tokens) named, as the command would default to it.
    const { types } = (await app.inject({ method: 'GET', url: '/api/job-types', headers })).json() as {
      types: { finetune: { params: { properties: Record<string, { default?: unknown }> } } };
    };
    const defaults = Object.entries(types.finetune.params.properties).filter(([, p]) => 'default' in p);
    assert.deepEqual(job.params, {
      ...Object.fromEntries(defaults.map(([name, p]) => [name, p.default])),
      ...params,
      context: 64,
    });
    assert.deepEqual(
      [job.params.method, job.params.alpha, job.params.loraDropout, job.params.lr, job.params.targets.length],
      ['lora', 16, 0.05, null, 7],
    );
  });
});
