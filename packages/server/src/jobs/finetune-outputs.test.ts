// A finished fine-tune's outputs into the registry and eval_reports, on PGlite with the real registry: the run
// folder holds a GGUF LoRA adapter written by the studio (random non-zero B so it is a real update), report.json
// and lineage.json as `ownlm finetune` writes them. Then the report routes: JSON, the Markdown and HTML
// downloads with hostile text escaped, and another user's report as a 404. The whole path from a real job is
// in test/e2e/finetune.test.ts.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Random } from '@ownlm/engine';
import { loadModelFolder, writeGgufLoraAdapter, type FinetuneReport } from '@ownlm/studio';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { createApiKey } from '../auth/api-keys.ts';
import { registerAuthentication } from '../auth/authenticate.ts';
import { configWithDefaults } from '../config.ts';
import type { AppContext } from '../context.ts';
import { openPglite, type DatabaseHandle } from '../db/database.ts';
import { datasets, users } from '../db/schema.ts';
import { Outbound } from '../outbound/outbound.ts';
import { SafetyPolicies } from '../safety/policies.ts';
import { ModelRegistry } from '../registry/registry.ts';
import { reportRoutes } from '../routes/reports.ts';
import { createLlamaRuntime } from '../serve/llama-runtime.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { JobHub } from './events.ts';
import { registerFinetuneOutputs } from './finetune-outputs.ts';
import type { JobView } from './view.ts';

const hostile = '<script>alert(1)</script> | **bold** & "quotes"';
const report: FinetuneReport = {
  baseModel: 'tiny',
  tunedModel: 'run',
  dataset: 'support',
  heldOut: { conversations: 4, assistantTokens: 120 },
  perplexity: { base: 21.5, tuned: 9.25 },
  scenarios: [{ prompt: hostile, base: 'plain answer', tuned: 'tuned answer' }],
};

describe('fine-tune outputs and reports', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-finetune-outputs-'));
  const run = join(home, 'jobs', 'job_1', 'run');
  let handle: DatabaseHandle;
  let ctx: AppContext;
  let app: FastifyInstance;
  const keys: string[] = [];
  let baseId: string;

  function job(overrides: Partial<JobView> = {}): JobView {
    const now = new Date();
    return {
      ...{ id: 'job_1', userId: 'usr_a', type: 'finetune', name: 'finetune', state: 'running' },
      ...{ params: { base: baseId, dataset: 'ds_1', method: 'lora', rank: 4 }, error: null, progress: null },
      ...{ attempts: 1, workerId: 'local', cancelRequested: false, wallSeconds: 5, hourlyRate: 0, cost: 0 },
      ...{ tokensProcessed: 0, createdAt: now, startedAt: now, finishedAt: null },
      result: { out: 'run', adapterGguf: 'run/adapter.gguf', mergedGguf: null, report: 'run/report.json' },
      ...overrides,
    };
  }

  /** The files the job's result names, as completeJob finds them in its run folder. */
  const artifacts = () => ({
    out: run,
    adapterGguf: join(run, 'adapter.gguf'),
    report: join(run, 'report.json'),
  });

  before(async () => {
    const files = await tinyModel();
    mkdirSync(join(home, 'models'), { recursive: true });
    copyFileSync(files.gguf, join(home, 'models', 'tiny.gguf'));
    mkdirSync(run, { recursive: true });
    const { model } = loadModelFolder(files.folder);
    const adapter = model.attachLora({ rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] });
    const random = new Random(1);
    for (const p of adapter.parameters.values()) random.fillNormal(p.data, 0.1);
    writeGgufLoraAdapter(join(run, 'adapter.gguf'), adapter, model.config);
    writeFileSync(join(run, 'report.json'), JSON.stringify(report));
    writeFileSync(
      join(run, 'lineage.json'),
      JSON.stringify({ hyperparameters: { rank: 4, lr: 0.01 }, metrics: { trainLoss: 1.5 } }),
    );

    handle = await openPglite('memory://');
    for (const id of ['usr_a', 'usr_b'])
      await handle.db
        .insert(users)
        .values({ id, email: `${id}@example.com`, name: id, passwordHash: 'x', role: 'member' });
    await handle.db.insert(datasets).values({
      ...{ id: 'ds_1', userId: 'usr_a', name: 'support', sourceFormat: 'openai', path: join(home, 'ds') },
      ...{ conversations: 20, stats: {}, rejected: [], rejectedCount: 0 },
    });
    const registry = new ModelRegistry(handle.db, join(home, 'models'), () => {});
    baseId = (await registry.sync())[0]!.versionId;
    const runtime = createLlamaRuntime({ resolveModel: async () => null });
    ctx = {
      config: configWithDefaults({ home }),
      db: handle.db,
      registry,
      runtime,
      jobHub: new JobHub(),
      jobCompletions: {},
      outbound: new Outbound({ allow: [] }),
      safety: SafetyPolicies.of(handle.db),
    };
    app = Fastify();
    await app.register(fastifyCookie);
    registerAuthentication(app, handle.db);
    await app.register(reportRoutes(ctx), { prefix: '/api' });
    for (const userId of ['usr_a', 'usr_b'])
      keys.push(
        (
          await createApiKey({
            ctx,
            actor: { userId, role: 'member', apiKeyId: null },
            name: 'test',
            scopes: ['platform'],
          })
        ).secret,
      );
  });
  after(async () => {
    await app?.close();
    await ctx?.runtime.close();
    await handle?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const get = (who: number | null, url: string) =>
    app.inject({ method: 'GET', url, headers: who === null ? {} : { authorization: `Bearer ${keys[who]}` } });

  test('the adapter becomes a version of kind adapter on the base, with lineage; the report is stored', async () => {
    const added = await registerFinetuneOutputs({ ctx, job: job(), artifacts: artifacts() });
    assert.equal(added.mergedVersionId, null);
    const adapter = await ctx.registry.byVersionId(String(added.adapterVersionId));
    assert.equal(adapter.kind, 'adapter');
    assert.equal(adapter.baseVersionId, baseId);
    assert.equal(adapter.name, 'support-lora', 'named after the dataset when the job kept its default name');
    assert.equal(added.model, 'support-lora:1');
    assert.deepEqual(adapter.aliases, [], 'an adapter does not take the default alias');
    assert.equal((await ctx.registry.defaultModel())!.versionId, baseId);
    assert.deepEqual(adapter.lineage, {
      base: baseId,
      baseModel: 'tiny:1',
      dataset: 'ds_1',
      datasetName: 'support',
      job: 'job_1',
      method: 'lora',
      hyperparameters: { rank: 4, lr: 0.01 },
      metrics: { trainLoss: 1.5 },
    });

    const shown = await get(0, `/api/reports/${String(added.reportId)}`);
    assert.equal(shown.statusCode, 200, shown.body);
    assert.deepEqual(shown.json(), { report });
  });

  test('downloads are attachments with hostile text escaped; another user, a bad suffix and no sign-in are refused', async () => {
    const { reportId } = await registerFinetuneOutputs({
      ctx,
      job: job({ id: 'job_2', name: 'voice tune' }),
      artifacts: artifacts(),
    });
    const html = await get(0, `/api/reports/${String(reportId)}.html`);
    assert.equal(html.statusCode, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.equal(
      html.headers['content-disposition'],
      `attachment; filename="report-${String(reportId)}.html"`,
    );
    assert.ok(!html.body.includes('<script>'), 'no markup from the report reaches the page');
    assert.ok(html.body.includes('&lt;script&gt;'));
    const md = await get(0, `/api/reports/${String(reportId)}.md`);
    assert.match(String(md.headers['content-type']), /^text\/markdown/);
    assert.match(md.body, /21\.500/);
    assert.match(md.body, /9\.250/);

    for (const [who, url, status] of [
      [1, `/api/reports/${String(reportId)}`, 404],
      [1, `/api/reports/${String(reportId)}.html`, 404],
      [0, `/api/reports/${String(reportId)}.pdf`, 404],
      [0, '/api/reports/rep_missing', 404],
      [null, `/api/reports/${String(reportId)}`, 401],
    ] as const)
      assert.equal((await get(who, url)).statusCode, status, `${url} as ${who}`);
  });

  test('a run without its report, or reporting no adapter, fails with the reason', async () => {
    await assert.rejects(
      registerFinetuneOutputs({
        ctx,
        job: job(),
        artifacts: { out: join(home, 'nowhere'), adapterGguf: join(run, 'adapter.gguf') },
      }),
      /left no report\.json/,
    );
    await assert.rejects(
      registerFinetuneOutputs({
        ctx,
        job: job(),
        artifacts: { out: run, report: join(run, 'report.json') },
      }),
      /reported no adapterGguf/,
    );
    const adapter = (await ctx.registry.list()).find((m) => m.kind === 'adapter')!;
    await assert.rejects(
      registerFinetuneOutputs({
        ctx,
        job: job({ params: { base: adapter.versionId, dataset: 'ds_1', method: 'lora' } }),
        artifacts: artifacts(),
      }),
      /itself an adapter/,
    );
  });
});
