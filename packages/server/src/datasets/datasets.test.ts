// The files a dataset waits in: a server that stopped while storing one left its file in `<home>/uploads`, and
// the next start removes it, but nothing written since the start and nothing outside that folder.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../app.ts';

test('an app starts by removing the uploads a stopped server left, and only those', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-uploads-'));
  try {
    const uploads = join(home, 'uploads');
    mkdirSync(join(uploads, 'folder'), { recursive: true });
    const hourAgo = new Date(Date.now() - 3_600_000);
    const file = (path: string, mtime: Date) => {
      writeFileSync(path, '{}\n');
      utimesSync(path, mtime, mtime);
      return path;
    };
    const interrupted = file(join(uploads, 'interrupted.jsonl'), hourAgo);
    // Being written by another server on the same home.
    const arriving = file(join(uploads, 'arriving.jsonl'), new Date(Date.now() + 60_000));
    const nested = file(join(uploads, 'folder', 'old.jsonl'), hourAgo);
    const outside = file(join(home, 'old.jsonl'), hourAgo);
    const app = await buildApp({ home, logLevel: 'silent', jobWorkers: 0 });
    await app.close();
    assert.equal(existsSync(interrupted), false, 'the interrupted upload is removed');
    for (const kept of [arriving, nested, outside]) assert.ok(existsSync(kept), `${kept} is kept`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
