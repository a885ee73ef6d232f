// The redteam job type: created by a user on a model version they may use, it runs `ownlm redteam --gguf` in its
// job folder; when it succeeds, its redteam-report.json becomes a report its owner reads and downloads like a
// fine-tune's, and no one else can. (The command itself is tested in packages/cli/src/commands/redteam.test.ts;
// the tiny test model's 64-token context cannot hold the suite's system prompt.)
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readRedteamSuite, runRedteam, writeRedteamReport } from '@ownlm/studio';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { signUp, type SignedUp } from '../testing/users.ts';
import { jobDirectory } from './job-folder.ts';
import { jobArguments } from './job-types.ts';
import { registerRedteamReport } from './redteam.ts';
import type { JobView } from './view.ts';

describe('redteam jobs', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-redteam-job-'));
  let app: FastifyInstance;
  let alice: SignedUp;
  let bob: SignedUp;
  let versionId: string;
  let gguf: string;

  before(async () => {
    mkdirSync(join(home, 'models'));
    gguf = join(home, 'models', 'tiny.gguf');
    copyFileSync((await tinyModel()).gguf, gguf);
    app = await buildApp({ home, logLevel: 'warn', jobWorkers: 0 });
    versionId = (await app.ctx.registry.resolve('tiny')).versionId;
    await signUp(app, 'admin@example.com');
    alice = await signUp(app, 'alice@example.com');
    bob = await signUp(app, 'bob@example.com');
  });

  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('a redteam job on a model version runs ownlm redteam on its GGUF; its report is its owner’s', async () => {
    const refused = await app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: alice.headers,
      payload: { type: 'redteam', params: { model: versionId, filters: 'some' } },
    });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal((refused.json() as { error: { param: string } }).error.param, 'params.filters');

    const created = await app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: alice.headers,
      payload: { type: 'redteam', params: { model: versionId, limit: 1 } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { job } = created.json() as { job: JobView };
    assert.deepEqual(job.params, { model: versionId, filters: 'both', limit: 1 });
    assert.deepEqual(jobArguments(job, { model: gguf }), [
      ...['redteam', '--model', versionId, '--gguf', 'inputs/model/tiny.gguf', '--out', 'run/redteam'],
      ...['--filters', 'both', '--limit', '1', '--events', '-'],
    ]);

    // What the command leaves in the run folder: a report of two prompts, one answer leaking a secret.
    const out = join(jobDirectory(home, job.id), 'run', 'redteam');
    const report = await runRedteam({
      model: versionId,
      prompts: readRedteamSuite()
        .filter((p) => p.category === 'pii-extraction')
        .slice(0, 2),
      generate: async () => 'Her card is 4111 1111 1111 1111. <script>alert(1)</script>',
    });
    mkdirSync(out, { recursive: true });
    writeRedteamReport(out, report);
    const { reportId } = await registerRedteamReport({
      ctx: app.ctx,
      job,
      artifacts: { out },
      lastEvents: [],
    });

    const get = (who: SignedUp, suffix: string) =>
      app.inject({ method: 'GET', url: `/api/reports/${String(reportId)}${suffix}`, headers: who.headers });
    assert.deepEqual((await get(alice, '')).json(), { report: JSON.parse(JSON.stringify(report)) });
    const html = await get(alice, '.html');
    assert.equal(html.statusCode, 200);
    assert.match(String(html.headers['content-disposition']), /filename="redteam-report-rep_[\w-]+\.html"/);
    assert.ok(html.body.includes(versionId) && !html.body.includes('<script>alert'), 'escaped');
    assert.match((await get(alice, '.md')).body, /leaked/i);
    assert.equal((await get(bob, '.html')).statusCode, 404);
    await assert.rejects(
      registerRedteamReport({ ctx: app.ctx, job, artifacts: {}, lastEvents: [] }),
      /no report folder/,
    );
  });
});
