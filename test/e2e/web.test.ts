// The web app in a real browser (Debian's chromium driven by playwright-core) against the real server, started
// in-process on a temporary data folder with a tiny model trained by the test setup: sign up, chat with a streamed
// answer, reload, search, export, API keys, the phone layout, the XSS payload list rendered as a message, and an
// admin's safety policy blocking a message and flagging it for review.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { xssPayloads } from '../../packages/web/src/chat/xss-payloads.ts';
import { chromiumPath, ensureChromium, screenshots, startTestServer, type TestServer } from './browser.ts';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const dialogs: string[] = [];
const pageErrors: string[] = [];
const home = mkdtempSync(join(tmpdir(), 'ownlm-web-'));

describe('the web app in a browser', () => {
  before(async () => {
    ensureChromium();
    mkdirSync(screenshots, { recursive: true });
    server = await startTestServer(home);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1200, height: 820 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });
  const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });

  test('sign up, chat with a streamed answer, reload, search and export', async () => {
    await page.goto(server.url);
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Name').fill('Ada');
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByLabel('Password').fill('a long enough password');
    await shot('01-register');
    await page.getByRole('button', { name: 'Create account' }).last().click();

    await page.locator('#model-picker option').first().waitFor({ state: 'attached' });
    assert.equal(await page.locator('#model-picker option').count(), 1);

    // A short answer keeps the tiny model inside its 64-token context.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Max tokens').fill('12');
    await page.getByRole('button', { name: 'Save' }).click();

    // Shift+Enter adds a line; Enter sends.
    await composer().fill('Tell me about giraffes');
    await composer().press('Shift+Enter');
    await composer().pressSequentially('please');
    assert.equal(await composer().inputValue(), 'Tell me about giraffes\nplease');
    // Record every state of the answer while it streams, to see it arrive in pieces before it is saved.
    await page.evaluate(() => {
      const seen: string[] = [];
      (globalThis as unknown as { __streamed: string[] }).__streamed = seen;
      new MutationObserver(() => {
        const busy = document.querySelector('article[aria-busy="true"] .markdown');
        if (busy && seen.at(-1) !== busy.textContent) seen.push(busy.textContent ?? '');
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await composer().press('Enter');
    await page.waitForURL(/\/chats\/[^/]+$/);
    const answer = page.locator('article.from-assistant').last();
    await answer.locator('.tokens').waitFor();
    assert.equal(await composer().inputValue(), '');
    const streamed = await page.evaluate(
      () => (globalThis as unknown as { __streamed: string[] }).__streamed,
    );
    assert.ok(streamed.length >= 1, 'the answer was never shown while streaming');
    const answerText = (await answer.locator('.markdown').textContent())?.trim() ?? '';
    assert.ok(answerText.length > 0);
    assert.match((await answer.locator('.tokens').textContent()) ?? '', /\d+ completion/);
    await page.getByText(/Today: [1-9][\d,]* tokens/).waitFor();
    await shot('02-chat');

    // After a reload the chat is there, from the server: its URL, the sidebar and the messages.
    const chatUrl = page.url();
    await page.reload();
    await page.locator('article.from-user').getByText('Tell me about giraffes').waitFor();
    assert.equal(page.url(), chatUrl);
    assert.equal(
      await page.locator('.chat-list a[aria-current="page"]').textContent(),
      'Tell me about giraffes',
    );

    // A second chat, so the search has something to leave out.
    await page.getByRole('button', { name: 'New chat' }).click();
    await composer().fill('Hello');
    await composer().press('Enter');
    await page.locator('article.from-assistant .tokens').waitFor();
    await page.locator('.chat-list li').nth(1).waitFor();

    const search = page.getByRole('searchbox', { name: 'Search chats' });
    await search.fill('giraffes');
    await page.waitForFunction(() => document.querySelectorAll('.chat-list li').length === 1);
    assert.equal(await page.locator('.chat-list li').textContent(), 'Tell me about giraffes');
    await search.fill('zebras');
    await page.getByText('No chat matches your search.').waitFor();
    await search.fill('');
    await page.waitForFunction(() => document.querySelectorAll('.chat-list li').length === 2);

    await page.goto(chatUrl);
    await page.locator('article.from-assistant .tokens').waitFor();
    await page.getByText('Export').click();
    const [markdown] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Markdown (.md)' }).click(),
    ]);
    const markdownText = readFileSync((await markdown.path())!, 'utf8');
    assert.match(markdown.suggestedFilename(), /\.md$/);
    await page.getByText('Export').click();
    const [json] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'JSON' }).click(),
    ]);
    assert.match(json.suggestedFilename(), /\.json$/);
    const exported = JSON.parse(readFileSync((await json.path())!, 'utf8')) as {
      messages: { role: string; content: string }[];
    };
    assert.deepEqual(
      exported.messages.map((m) => m.role),
      ['user', 'assistant'],
    );
    assert.equal(exported.messages[0].content, 'Tell me about giraffes\nplease');
    for (const { content } of exported.messages) assert.ok(markdownText.includes(content.trim()));
    assert.deepEqual(pageErrors, []);
  });

  test('API keys: the secret is shown once, listed by prefix and scope, revoked', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('textbox', { name: 'Name' }).fill('scripts');
    assert.ok(await page.getByRole('checkbox', { name: /^Inference/ }).isChecked(), 'inference by default');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.getByLabel('New API key').inputValue();
    assert.ok(secret.length >= 20);
    const row = page.locator('.keys-table tbody tr', { hasText: 'scripts' });
    const prefix = ((await row.locator('code').textContent()) ?? '').replace('…', '');
    assert.ok(prefix.length > 0 && secret.startsWith(prefix));
    assert.match((await row.textContent()) ?? '', /inference/);
    const withKey = (path: string) =>
      fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal((await withKey('/v1/models')).status, 200);
    assert.equal(
      (await withKey('/api/chats')).status,
      403,
      'an inference key does not open the platform API',
    );
    await shot('03-keys');
    await row.getByRole('button', { name: /Revoke/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('No keys yet.').waitFor();
    assert.equal((await withKey('/v1/models')).status, 401);
  });

  test('on a phone-sized screen the chat list is a drawer', async () => {
    await page.setViewportSize({ width: 390, height: 780 });
    await page.goto(server.url);
    const sidebar = page.locator('#sidebar');
    await page.getByRole('button', { name: 'Open the chat list' }).waitFor();
    await page.waitForFunction(
      () => getComputedStyle(document.getElementById('sidebar')!).visibility === 'hidden',
    );
    await page.getByRole('button', { name: 'Open the chat list' }).click();
    // Slid fully in.
    await page.waitForFunction(() => document.getElementById('sidebar')!.getBoundingClientRect().left === 0);
    assert.ok(
      await sidebar
        .getByRole('searchbox', { name: 'Search chats' })
        .evaluate((e) => e === document.activeElement),
    );
    await shot('04-phone-drawer');
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      () => getComputedStyle(document.getElementById('sidebar')!).visibility === 'hidden',
    );
    await shot('05-phone');
    await page.setViewportSize({ width: 1200, height: 820 });
  });

  test('the XSS payload list renders as a message without running anything', async () => {
    await page.goto(server.url);
    await composer().fill(xssPayloads.join('\n\n'));
    await composer().press('Enter');
    await page.waitForURL(/\/chats\/[^/]+$/);
    // The server saves the message before generating; the answer may fail (the payloads overflow the tiny
    // model's context), which does not matter here.
    await page.waitForFunction(
      () => document.querySelector('.messages')?.getAttribute('aria-busy') === 'false',
    );
    const message = page.locator('article.from-user');
    assert.equal(await message.count(), 1);
    assert.match((await message.textContent()) ?? '', /<script>window\.__xss=1<\/script>/);
    await check();
    // Once more as the server sends it back.
    await page.reload();
    await message.waitFor();
    assert.equal(await message.count(), 1);
    await check();
    await shot('06-xss');

    async function check() {
      const found = await page.evaluate(() => {
        const elements = Array.from(document.querySelectorAll('*'));
        return {
          xss: (globalThis as unknown as { __xss?: unknown }).__xss ?? null,
          handlers: elements.flatMap((e) =>
            Array.from(e.attributes)
              .filter((a) => /^on/i.test(a.name))
              .map((a) => `${e.tagName} ${a.name}`),
          ),
          scripts: Array.from(document.querySelectorAll('.messages script')).length,
          embeds: Array.from(
            document.querySelectorAll('.messages :is(iframe, object, embed, svg, form, style, meta, link)'),
            (e) => e.tagName,
          ),
          links: Array.from(document.querySelectorAll('.messages a[href]'))
            .map((a) => (a as HTMLAnchorElement).protocol)
            .filter((p) => !['http:', 'https:', 'mailto:'].includes(p)),
          images: Array.from(document.querySelectorAll('.messages img'))
            .map((img) => new URL((img as HTMLImageElement).src).origin)
            .filter((origin) => origin !== location.origin),
        };
      });
      assert.equal(found.xss, null);
      assert.deepEqual(found.handlers, []);
      assert.equal(found.scripts, 0);
      assert.deepEqual(found.embeds, []);
      assert.deepEqual(found.links, []);
      assert.deepEqual(found.images, []);
      assert.deepEqual(dialogs, []);
      assert.deepEqual(pageErrors, []);
    }
  });

  test('safety: an admin sets a policy, a blocked message says why, and the flag is reviewed in the queue', async () => {
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Admin', exact: true }).click();
    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Safety' }).click();
    await page.getByRole('heading', { name: 'Safety', exact: true }).waitFor();
    await page.getByRole('button', { name: 'New policy' }).click();
    const form = page.getByRole('form', { name: 'New policy' });
    await form.getByLabel('shipped classifier').uncheck();
    await form.getByRole('button', { name: 'Add a rule' }).click();
    await form.getByLabel('Words and phrases').fill('zorblax protocol');
    await form.getByRole('button', { name: 'Create policy' }).click();
    await page.locator('strong', { hasText: 'The whole platform' }).waitFor();
    await shot('07-safety-policy');

    await page.goto(server.url);
    await composer().fill('Explain the zorblax protocol');
    await composer().press('Enter');
    await page.getByRole('alert').getByText("blocked by the platform's safety policy: violence").waitFor();

    await page.goto(`${server.url}/admin/safety`);
    const row = page.getByRole('row').filter({ hasText: 'Explain the zorblax protocol' });
    await row.getByText('input blocked').waitFor();
    await shot('08-flag-queue');
    await row.getByRole('button', { name: 'Mark reviewed' }).click();
    await page.getByText('Nothing here.').waitFor();
    await page.getByRole('button', { name: 'Delete The whole platform' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No policies yet.').waitFor();
    assert.deepEqual(pageErrors, []);
  });

  test('account: a password change, then signing out everywhere ends this browser session too', async () => {
    await page.goto(server.url);
    await page.locator('.account-name').click();
    await page.getByRole('heading', { name: 'Account' }).waitFor();
    await page.getByLabel('Current password').fill('not the password');
    await page.getByLabel('New password').fill('a new long passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('the current password is wrong').waitFor();
    await page.getByLabel('Current password').fill('a long enough password');
    await page.getByLabel('New password').fill('a new long passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').getByText('Your password is changed').waitFor();
    await shot('09-account');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByLabel('Password').waitFor();
    await page.reload();
    await page.getByLabel('Password').waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
