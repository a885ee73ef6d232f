// The fine-tuning studio's pages in a real browser (Debian's chromium driven by playwright-core) against the real
// server with the tiny model: upload a dataset with one bad line and see that line rejected by number, its
// statistics and preview; the fine-tune form's preflight estimate; a short LoRA job watched live (progress bar
// and loss chart changing while it runs); the new version's lineage on the models page; the phone layout.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath, ensureChromium, screenshots, startTestServer, type TestServer } from './browser.ts';

let server: TestServer;
let proxy: ReturnType<typeof createTcpServer>;
/** The app's address through the proxy, which the browser uses so the test can cut its connections. */
let appUrl = '';
const proxied = new Set<Socket>();
const requestHeads: string[] = [];
let receiver: Server;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const home = mkdtempSync(join(tmpdir(), 'ownlm-studio-web-'));

const topics = ['invoices', 'refunds', 'passwords', 'shipping', 'returns', 'warranty', 'pricing', 'accounts'];
/** Twelve short support conversations (within the tiny model's 64-token context) and, as line 5, a line whose
 * assistant turn has an unknown role. */
const lines = topics.flatMap((topic, i) => [
  JSON.stringify({
    messages: [
      { role: 'user', content: `How do ${topic} work?` },
      { role: 'assistant', content: `For ${topic}, open the account page.` },
    ],
  }),
  ...(i % 2 === 0
    ? [
        JSON.stringify({
          messages: [
            { role: 'user', content: `Where are my ${topic}?` },
            { role: 'assistant', content: `Your ${topic} are listed under settings.` },
          ],
        }),
      ]
    : []),
]);
const badLine = 5;
lines.splice(badLine - 1, 0, JSON.stringify({ messages: [{ role: 'wizard', content: 'abracadabra' }] }));
const validConversations = lines.length - 1;

/** The page is no wider than the screen: nothing forces sideways scrolling on a phone. */
async function fitsWidth(): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

describe('the fine-tuning studio in a browser', () => {
  before(async () => {
    ensureChromium();
    mkdirSync(screenshots, { recursive: true });
    // The webhook receiver is on loopback, which the server reaches only when allowed.
    server = await startTestServer(home, { hourlyRate: 1.2, outboundAllow: ['127.0.0.1'] });
    // A TCP proxy in front of the server: destroying its sockets is a real dropped connection for the browser.
    const target = new URL(server.url);
    proxy = createTcpServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      proxied.add(client);
      client.on('data', (chunk: Buffer) => requestHeads.push(chunk.toString('latin1').split('\r\n\r\n')[0]));
      client.pipe(upstream).pipe(client);
      const close = () => {
        proxied.delete(client);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // A real HTTP receiver for the webhook, answering 200 to everything.
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(appUrl);
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Name').fill('Grace');
    await page.getByLabel('Email').fill('grace@example.com');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).last().click();
    await page.locator('#model-picker option').first().waitFor({ state: 'attached' });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await new Promise((resolve) => proxy?.close(resolve));
    rmSync(home, { recursive: true, force: true });
  });

  const studioLink = (name: string) =>
    page.getByRole('navigation', { name: 'Fine-tuning studio' }).getByRole('link', { name, exact: true });
  const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });
  let datasetUrl = '';

  test('upload a dataset: the bad line is shown by number, statistics and preview', async () => {
    await studioLink('Datasets').click();
    await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    const upload = page.locator('form[aria-labelledby="upload-title"]');
    await upload.getByLabel('File').setInputFiles({
      name: 'support.jsonl',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from(`${lines.join('\n')}\n`),
    });
    await upload.getByLabel('Name').fill('support voice');
    await upload.getByLabel('Validation fraction').fill('0.2');
    await upload.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL(/\/datasets\/[^/]+$/);
    datasetUrl = page.url();

    await page.getByRole('heading', { name: 'support voice' }).waitFor();
    const rejected = page.locator('.rejected-table tbody tr');
    assert.equal(await rejected.count(), 1);
    assert.equal(await rejected.locator('td').first().textContent(), String(badLine));
    assert.match((await rejected.textContent()) ?? '', /role|wizard/i);
    await page.getByText('1 line was rejected').waitFor();

    const conversations = page.locator('.stat', { hasText: 'Conversations' }).locator('strong');
    assert.equal(await conversations.textContent(), String(validConversations));
    const assistant = page.locator('.stats-table tr', { hasText: 'assistant' }).locator('td');
    assert.equal(await assistant.first().textContent(), String(validConversations));
    assert.ok(Number((await assistant.last().textContent())?.replace(/,/g, '')) > 0);
    // Every conversation is in one histogram bucket.
    const counts = await page.locator('#histogram-table td').allTextContents();
    assert.equal(
      counts.reduce((sum, c) => sum + Number(c), 0),
      validConversations,
    );
    assert.equal(await page.locator('.histogram rect.bar').count(), counts.length);

    // The preview renders conversations as turns; train and validation together hold every conversation.
    const shown = page.locator('.conversation');
    await shown.first().waitFor();
    const train = Number(
      /(\d+) train/.exec((await page.locator('.studio-page > p.muted').textContent()) ?? '')?.[1],
    );
    assert.equal(await shown.count(), Math.min(10, train));
    assert.match((await shown.first().locator('.turn.from-user p').textContent()) ?? '', /\?$/);
    if (train > 10) {
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText(`11–${train} of ${train}`).waitFor();
      assert.equal(await shown.count(), train - 10);
    }
    await page.getByLabel('Split').selectOption('validation');
    await page.waitForFunction(
      (n) => document.querySelectorAll('.conversation').length === n,
      validConversations - train,
    );
    await shot('studio-01-dataset');
    assert.deepEqual(pageErrors, []);
  });

  test('a synthetic dataset from templates, then deleted', async () => {
    await studioLink('Datasets').click();
    await page.getByText('Generate a synthetic dataset').click();
    const form = page.locator('details form');
    await form.getByLabel('Name').fill('synthetic smalltalk');
    await form.getByLabel('Conversations').fill('8');
    await form.getByRole('button', { name: 'Generate' }).click();
    await page.waitForURL(/\/datasets\/[^/]+$/);
    await page.getByRole('heading', { name: 'synthetic smalltalk' }).waitFor();
    const count = Number(
      await page.locator('.stat', { hasText: 'Conversations' }).locator('strong').textContent(),
    );
    assert.ok(count >= 1 && count <= 8, `${count} conversations`);
    await page.locator('.conversation').first().waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/\/datasets$/);
    await page.locator('.data-table', { hasText: 'support voice' }).waitFor();
    assert.equal(await page.locator('.data-table', { hasText: 'synthetic smalltalk' }).count(), 0);
  });

  let webhookSecret = '';

  test('webhooks: add one for a local receiver, its secret shown once', async () => {
    await studioLink('Webhooks').click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await page.getByLabel('Endpoint URL').fill(url);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    webhookSecret = await page.getByLabel('Webhook secret').inputValue();
    assert.ok(webhookSecret.length >= 16);
    await page.locator('.webhook-list code', { hasText: url }).waitFor();
    await shot('studio-02-webhook');
    // Shown once: a fresh load lists the webhook without its secret.
    await page.reload();
    await page.locator('.webhook-list code', { hasText: url }).waitFor();
    assert.equal(await page.getByLabel('Webhook secret').count(), 0);
    assert.ok(!(await page.content()).includes(webhookSecret));
  });

  test('the fine-tune form shows the preflight, and a short LoRA job runs live', async (t) => {
    if (!datasetUrl) return t.skip('no dataset was uploaded');
    await page.goto(datasetUrl);
    await page.getByRole('link', { name: 'Fine-tune on it' }).click();
    await page.waitForURL(/\/finetune\?dataset=/);
    // The defaults are filled in, the context is the base model's.
    assert.equal(await page.getByLabel('Rank', { exact: true }).inputValue(), '8');
    assert.equal(await page.getByLabel('Context (tokens)').inputValue(), '64');
    assert.equal(await page.locator('.checkbox-row input:checked').count(), 7);
    await page.getByLabel('Steps (empty: from epochs)').fill('6');
    await page.getByLabel('Batch size').fill('2');
    await page.getByLabel('Job name (optional)').fill('voice tune');
    const estimate = page.locator('.estimate-list');
    await page.locator('.estimate-list, .estimate [role="alert"]').first().waitFor();
    const refused = page.locator('.estimate [role="alert"]');
    assert.equal(await refused.count(), 0, `the preflight failed: ${await refused.allTextContents()}`);
    assert.match((await estimate.textContent()) ?? '', /Memory.*(KiB|MiB|GiB).*Time.*Cost/);
    await shot('studio-03-finetune-form');

    await page.evaluate(() => {
      // Every state of the bar and the chart while the job runs, to see them move before it ends.
      const seen = { progress: [] as string[], paths: [] as string[] };
      (globalThis as unknown as { __seen: typeof seen }).__seen = seen;
      new MutationObserver(() => {
        const bar = document.querySelector('progress[aria-label="Job progress"]');
        const value = bar?.getAttribute('value') ?? '';
        if (bar && seen.progress.at(-1) !== value) seen.progress.push(value);
        const path = document.querySelector('.loss-chart path.train')?.getAttribute('d') ?? '';
        if (path && seen.paths.at(-1) !== path) seen.paths.push(path);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    });
    await page.getByRole('button', { name: 'Start fine-tune' }).click();
    await page.waitForURL(/\/jobs\/[^/]+$/);
    await page.locator('.badge.state-succeeded').waitFor({ timeout: 240_000 });
    const seen = await page.evaluate(
      () => (globalThis as unknown as { __seen: { progress: string[]; paths: string[] } }).__seen,
    );
    const values = seen.progress.filter(Boolean).map(Number);
    assert.ok(values.length >= 2, `the bar moved through ${JSON.stringify(seen.progress)}`);
    assert.ok(
      values.every((v, i) => i === 0 || v >= values[i - 1]),
      'the bar only moves forward',
    );
    assert.equal(values.at(-1), 1);
    assert.ok(seen.paths.length >= 2, `the loss chart was drawn ${seen.paths.length} times`);
    assert.ok((seen.paths.at(-1)!.match(/L/g) ?? []).length >= 1, 'the final curve has several points');
    assert.match((await page.locator('.job-step').textContent()) ?? '', /step 6 of 6/);
    await page.locator('.log-box div').first().waitFor();
    await shot('studio-04-job');

    // The bell counts the job's end; marking all read clears it.
    const bell = page.locator('summary.bell');
    await page.waitForFunction(() =>
      /Notifications, [1-9]/.test(document.querySelector('summary.bell')?.getAttribute('aria-label') ?? ''),
    );
    await bell.click();
    assert.match((await page.locator('.notification-list').textContent()) ?? '', /voice tune/);
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await page.waitForFunction(
      () => document.querySelector('summary.bell')?.getAttribute('aria-label') === 'Notifications, 0 unread',
    );
    await bell.click();

    await studioLink('Jobs').click();
    const row = page.locator('.jobs-table tbody tr', { hasText: 'voice tune' });
    await row.locator('.badge.state-succeeded').waitFor();
    assert.match((await row.textContent()) ?? '', /\$\d+\.\d{2}/);
    await page.goBack();
    await page.getByRole('link', { name: 'The new adapter version' }).click();
    await page.waitForURL(/\/models\?version=/);
    await page.locator('#version-title').waitFor();
    const lineage = (await page.locator('.lineage').textContent()) ?? '';
    assert.match(lineage, new RegExp(datasetUrl.split('/').pop()!));
    assert.equal(await page.locator('.models-table tr.selected td').nth(1).textContent(), 'adapter');
    // The before/after report of the job, with both perplexities.
    await page.locator('.perplexity-table').waitFor();
    const perplexities = (await page.locator('.perplexity-table td').allTextContents()).map(Number);
    assert.equal(perplexities.length, 2);
    assert.ok(
      perplexities.every((p) => p > 1),
      `perplexities ${perplexities}`,
    );
    await shot('studio-05-models');

    // Deploy the adapter under an alias, move the alias to the base, and roll it back.
    const adapterId = new URL(page.url()).searchParams.get('version')!;
    const aliasTarget = () =>
      page.evaluate(async () => {
        const { models } = (await (await fetch('/api/models')).json()) as {
          models: { id: string; kind: string; aliases: string[] }[];
        };
        return {
          staging: models.find((m) => m.aliases.includes('staging'))?.id,
          base: models.find((m) => m.kind === 'model')!.id,
        };
      });
    const aliasForm = page.locator('form.inline-form');
    await aliasForm.getByLabel('Alias').fill('staging');
    await aliasForm.getByLabel('Version').selectOption(adapterId);
    await aliasForm.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText(/^staging now serves /).waitFor();
    const { staging, base } = await aliasTarget();
    assert.equal(staging, adapterId);
    await aliasForm.getByLabel('Version').selectOption(base);
    await aliasForm.getByRole('button', { name: 'Deploy' }).click();
    await page.getByRole('button', { name: /^Roll back staging to / }).click();
    await page.getByRole('button', { name: /^Roll back staging/ }).waitFor({ state: 'detached' });
    assert.equal((await aliasTarget()).staging, adapterId);
    assert.deepEqual(pageErrors, []);
  });

  test('a long job survives a dropped connection, is cancelled and resumed', async (t) => {
    if (!datasetUrl) return t.skip('no dataset was uploaded');
    await page.goto(datasetUrl);
    await page.getByRole('link', { name: 'Fine-tune on it' }).click();
    // Far more steps than the test waits for (the tiny model trains dozens a second); it is cancelled.
    await page.getByLabel('Steps (empty: from epochs)').fill('5000');
    await page.getByLabel('Batch size').fill('2');
    await page.getByLabel('Job name (optional)').fill('long tune');
    await page.getByRole('button', { name: 'Start fine-tune' }).click();
    await page.waitForURL(/\/jobs\/[^/]+$/);
    const step = async () =>
      Number(/step (\d+)/.exec((await page.locator('.job-step').textContent()) ?? '')?.[1] ?? 0);
    const stepAbove = (n: number) =>
      page.waitForFunction(
        (min) =>
          Number(/step (\d+)/.exec(document.querySelector('.job-step')?.textContent ?? '')?.[1] ?? 0) > min,
        n,
        { timeout: 120_000 },
      );
    await stepAbove(1);
    // Every connection cut: the event stream drops, reconnects with Last-Event-ID, and nothing is drawn twice.
    const headsBefore = requestHeads.length;
    for (const socket of proxied) socket.destroy();
    const notice = page.getByText('Reconnecting to the live updates…');
    await notice.waitFor();
    // The notice goes when the stream is open again.
    await notice.waitFor({ state: 'detached' });
    const resumed = requestHeads
      .slice(headsBefore)
      .find((head) => /^GET \/api\/jobs\/[^/]+\/stream/.test(head));
    assert.match(resumed ?? '', /\r\nlast-event-id: [1-9]\d*/i);
    await stepAbove((await step()) + 2);
    const xs = ((await page.locator('.loss-chart path.train').getAttribute('d')) ?? '')
      .split(/[ML]/)
      .filter(Boolean)
      .map((point) => Number(point.trim().split(' ')[0]));
    assert.ok(xs.length >= 3);
    assert.ok(
      xs.every((x, i) => i === 0 || x >= xs[i - 1]),
      `the loss curve goes back or repeats a step: ${xs}`,
    );

    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.badge.state-cancelled').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Resume from the last checkpoint' }).click();
    await page.locator('.badge.state-queued, .badge.state-running').first().waitFor();
    const resumedFrom = await step();
    await stepAbove(resumedFrom);
    await shot('studio-06-resumed');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.badge.state-cancelled').waitFor({ timeout: 60_000 });
    assert.deepEqual(pageErrors, []);
  });

  test(
    "the webhook's delivery log shows the job's events, signed with the secret",
    { timeout: 60_000 },
    async (t) => {
      if (!webhookSecret) return t.skip('no webhook was added');
      await studioLink('Webhooks').click();
      const deliveries = page.getByRole('button', { name: 'Deliveries' });
      const succeeded = page.locator('.data-table tr', { hasText: 'job.succeeded' });
      // The log is read when opened; reopen it until the delivery of the job's end has been answered.
      const log = page.locator('.webhook-list .data-table, .webhook-list p.small:text("No deliveries yet.")');
      for (;;) {
        await deliveries.click();
        await log.first().waitFor();
        if ((await succeeded.allTextContents()).some((row) => /succeeded.*200/.test(row))) break;
        await deliveries.click();
        await page.waitForTimeout(250);
      }
      await shot('studio-07-deliveries');
      const delivery = received.find((r) => JSON.parse(r.body).event === 'job.succeeded');
      assert.ok(delivery, `the receiver got ${received.map((r) => JSON.parse(r.body).event)}`);
      const timestamp = String(delivery.headers['ownlm-webhook-timestamp']);
      const expected = createHmac('sha256', webhookSecret)
        .update(`${timestamp}.${delivery.body}`)
        .digest('hex');
      assert.equal(delivery.headers['ownlm-webhook-signature'], `v1=${expected}`);
    },
  );

  test('on a phone-sized screen the studio pages fit the width', async () => {
    await page.setViewportSize({ width: 390, height: 780 });
    for (const [path, name] of [
      [datasetUrl || '/datasets', 'studio-08-phone-dataset'],
      ['/finetune', 'studio-09-phone-finetune'],
      ['/jobs', 'studio-10-phone-jobs'],
      ['/models', 'studio-11-phone-models'],
      ['/webhooks', 'studio-12-phone-webhooks'],
    ]) {
      await page.goto(new URL(path, appUrl).href);
      await page.locator('.studio-page h1').waitFor();
      await page.waitForLoadState('networkidle');
      assert.ok(await fitsWidth(), `${path} is wider than the phone`);
      await shot(name);
    }
    await page.setViewportSize({ width: 1200, height: 900 });
  });
});
