// The fine-tuning studio end to end over HTTP on a real server (PGlite, loopback, the local job worker running
// `ownlm finetune`): a generated conversation dataset uploaded as JSONL, a LoRA job started through the API and
// followed over Server-Sent Events to `succeeded`, the report's held-out assistant perplexity lower for the tuned
// model than for the base, the adapter version served through /v1 on its base by llama.cpp's run-time LoRA with
// the same greedy answer as the engine with the PEFT adapter applied, and a webhook receiver that got the job's
// start and success, signed.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateTokens, Random } from '@ownlm/engine';
import { applyPeftAdapter, loadModelFolder } from '@ownlm/studio';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../packages/server/src/app.ts';
import { tinyModel, type ModelFiles } from '../../packages/server/src/testing/tiny-model.ts';
import { voiceConversation } from '../../packages/studio/src/finetune/finetune-fixture.ts';

interface Job {
  id: string;
  state: string;
  error: string | null;
  result: Record<string, unknown> | null;
}

const home = mkdtempSync(join(tmpdir(), 'ownlm-e2e-finetune-'));
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let receiver: Server;
let app: FastifyInstance;
let url: string;
let files: ModelFiles;
let session: Record<string, string>;
let apiKey: string;
let webhookSecret: string;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}${path}`, {
    method,
    headers: {
      ...session,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function json<T>(response: Response, status = 200): Promise<T> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  return JSON.parse(text) as T;
}

/** Reads the job's SSE stream until a `state` frame says the job has ended; returns that job. */
async function followToEnd(jobId: string): Promise<{ job: Job; states: string[]; frames: number }> {
  const response = await api('GET', `/api/jobs/${jobId}/stream`);
  assert.equal(response.status, 200);
  assert.match(String(response.headers.get('content-type')), /^text\/event-stream/);
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  const states: string[] = [];
  let buffer = '';
  let frames = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (!event || !data) continue;
      frames++;
      if (event !== 'state') continue;
      const { job } = JSON.parse(data) as { job: Job };
      states.push(job.state);
      if (['succeeded', 'failed', 'cancelled'].includes(job.state)) {
        await reader.cancel();
        return { job, states, frames };
      }
    }
  }
  throw new Error(`the stream of job ${jobId} ended before the job did`);
}

describe('fine-tuning studio end to end', () => {
  before(async () => {
    files = await tinyModel();
    mkdirSync(join(home, 'models'));
    copyFileSync(files.gguf, join(home, 'models', 'tiny.gguf'));
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    // The webhook receiver is on loopback, which the server reaches only when allowed.
    app = await buildApp({
      home,
      logLevel: 'warn',
      jobWorkers: 1,
      threads: 1,
      webhookBackoffMs: 50,
      outboundAllow: ['127.0.0.1'],
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const registered = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', password: 'a long enough password', name: 'Ada' }),
    });
    const cookie = /ownlm_session=[^;]+/.exec(String(registered.headers.get('set-cookie')))![0];
    session = { cookie, 'x-csrf-token': (await json<{ csrfToken: string }>(registered, 201)).csrfToken };
    apiKey = (await json<{ secret: string }>(await api('POST', '/api/keys', { name: 'e2e' }), 201)).secret;
    const { port } = receiver.address() as AddressInfo;
    const hook = await json<{ secret: string }>(
      await api('POST', '/api/webhooks', { url: `http://127.0.0.1:${port}/hooks` }),
      201,
    );
    webhookSecret = hook.secret;
  });
  after(async () => {
    await app?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(home, { recursive: true, force: true });
  });

  test('upload, LoRA job over SSE, a better tuned model, the adapter served like the engine, webhooks', async () => {
    // A generated dataset: questions about the people the base knows, answered in a voice it has never seen.
    const random = new Random(5);
    const jsonl = Array.from({ length: 64 }, () => JSON.stringify(voiceConversation(random))).join('\n');
    const { dataset } = await json<{
      dataset: { id: string; conversations: number; validationConversations: number };
    }>(
      await api('POST', '/api/datasets?name=pirate&validation=0.2', jsonl, {
        'content-type': 'application/x-ndjson',
      }),
      201,
    );
    assert.equal(dataset.conversations, 64);
    assert.ok(dataset.validationConversations > 0);

    const { models } = await json<{ models: { id: string; name: string; kind: string }[] }>(
      await api('GET', '/api/models'),
    );
    const base = models.find((m) => m.name === 'tiny')!;
    const scenario = 'Who comes after Clara?';
    const { job } = await json<{ job: Job }>(
      await api('POST', '/api/jobs', {
        type: 'finetune',
        params: {
          base: base.id,
          dataset: dataset.id,
          method: 'lora',
          rank: 8,
          alpha: 16,
          lr: 0.01,
          steps: 24,
          batchSize: 4,
          context: 64,
          threads: 1,
          scenarios: [scenario],
        },
      }),
      201,
    );
    const followed = await followToEnd(job.id);
    assert.equal(followed.job.state, 'succeeded', followed.job.error ?? '');
    assert.ok(followed.states.includes('running'), `states seen: ${followed.states.join(', ')}`);
    assert.ok(followed.frames > followed.states.length, 'progress and metrics frames arrived too');
    const result = followed.job.result!;
    assert.equal(typeof result.adapterVersionId, 'string');
    assert.equal(result.mergedVersionId, null);

    // The before/after report: the tuned model predicts held-out assistant turns better.
    const { report } = await json<{
      report: {
        perplexity: { base: number; tuned: number };
        heldOut: { conversations: number };
        scenarios: unknown[];
      };
    }>(await api('GET', `/api/reports/${String(result.reportId)}`));
    assert.ok(report.perplexity.tuned < report.perplexity.base, JSON.stringify(report.perplexity));
    assert.equal(report.heldOut.conversations, dataset.validationConversations);
    assert.equal(report.scenarios.length, 1);
    for (const [extension, type] of [
      ['md', /^text\/markdown/],
      ['html', /^text\/html/],
    ] as const) {
      const download = await api('GET', `/api/reports/${String(result.reportId)}.${extension}`);
      assert.equal(download.status, 200);
      assert.match(String(download.headers.get('content-type')), type);
      assert.match(
        String(download.headers.get('content-disposition')),
        /^attachment; filename=".*\.(md|html)"$/,
      );
      assert.match(await download.text(), /Clara/);
    }

    // The adapter is a version on its base, with lineage.
    const listed = await json<{
      models: { id: string; kind: string; baseVersionId: string | null; lineage: Record<string, unknown> }[];
    }>(await api('GET', '/api/models'));
    const adapter = listed.models.find((m) => m.id === result.adapterVersionId)!;
    assert.equal(adapter.kind, 'adapter');
    assert.equal(adapter.baseVersionId, base.id);
    assert.equal(adapter.lineage.job, job.id);
    assert.equal(adapter.lineage.dataset, dataset.id);
    assert.equal(adapter.lineage.base, base.id);

    // Served through /v1 on the base GGUF with the GGUF adapter, greedy; the engine with the PEFT adapter agrees.
    const maxTokens = 12;
    const completion = await json<{ choices: { message: { content: string } }[] }>(
      await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: adapter.id,
          messages: [{ role: 'user', content: scenario }],
          temperature: 0,
          max_tokens: maxTokens,
        }),
      }),
    );
    const plain = await json<{ choices: { message: { content: string } }[] }>(
      await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: base.id,
          messages: [{ role: 'user', content: scenario }],
          temperature: 0,
          max_tokens: maxTokens,
        }),
      }),
    );
    assert.notEqual(
      completion.choices[0]!.message.content,
      plain.choices[0]!.message.content,
      'the base alone answers otherwise',
    );
    const engine = loadModelFolder(files.folder);
    // The job names its files in its folder.
    assert.equal(result.peftAdapter, 'run/adapter');
    applyPeftAdapter(engine.model, join(home, 'jobs', job.id, String(result.peftAdapter)));
    const { tokenizer } = engine;
    const ends = [tokenizer.eosId!, tokenizer.tokenToId('<|im_end|>')!];
    const prompt = tokenizer.encodeChat([{ role: 'user', content: scenario }], { addGenerationPrompt: true });
    const generated = [
      ...generateTokens(engine.model, Int32Array.from(prompt), {
        temperature: 0,
        maxNewTokens: maxTokens,
        stopTokens: ends,
      }),
    ].filter((t) => !ends.includes(t));
    assert.equal(
      completion.choices[0]!.message.content,
      tokenizer.decode(generated, { skipSpecialTokens: true }),
    );

    // The webhook receiver heard the job start and succeed, each delivery signed with the secret. Deliveries
    // are sent after the state is stored, so the last one may still be on its way.
    for (let i = 0; i < 500 && !received.some((r) => r.body.includes('"job.succeeded"')); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const events = received.map((r) => JSON.parse(r.body) as { event: string; data: { job: Job } });
    for (const name of ['job.queued', 'job.started', 'job.succeeded'])
      assert.ok(
        events.some((e) => e.event === name && e.data.job.id === job.id),
        `${name} in ${events.map((e) => e.event).join(', ')}`,
      );
    for (const delivery of received) {
      const timestamp = String(delivery.headers['ownlm-webhook-timestamp']);
      const expected = createHmac('sha256', webhookSecret)
        .update(`${timestamp}.${delivery.body}`)
        .digest('hex');
      assert.equal(delivery.headers['ownlm-webhook-signature'], `v1=${expected}`);
    }
  });
});
