// The logs viewer's ring: bounded in memory and on disk, read back after a restart, filtered by level and text,
// and never holding a secret, whether in a field or inside a message.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LOG_LEVELS, LogRing } from './log-ring.ts';

const folders: string[] = [];
after(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));
const folder = () => {
  const path = mkdtempSync(join(tmpdir(), 'ownlm-logs-'));
  folders.push(path);
  return path;
};
const line = (level: number, msg: string, fields: object = {}) =>
  `${JSON.stringify({ level, time: Date.now(), msg, ...fields })}\n`;

test('the ring keeps the newest lines, filters by level and text, and comes back after a restart', () => {
  const directory = folder();
  const printed: string[] = [];
  const ring = new LogRing({ directory, capacity: 5, print: (text) => printed.push(text) });
  for (let i = 0; i < 8; i++) ring.write(line(i % 2 ? LOG_LEVELS.warn : LOG_LEVELS.info, `line ${i}`));
  assert.equal(printed.length, 8, 'every line is still printed');
  assert.deepEqual(
    ring.recent({ level: 0, text: '', limit: 100 }).map((e) => e.msg),
    ['line 7', 'line 6', 'line 5', 'line 4', 'line 3'],
  );
  assert.deepEqual(
    ring.recent({ level: LOG_LEVELS.warn, text: '', limit: 100 }).map((e) => e.msg),
    ['line 7', 'line 5', 'line 3'],
  );
  assert.deepEqual(
    ring.recent({ level: 0, text: 'LINE 6', limit: 100 }).map((e) => e.msg),
    ['line 6'],
  );
  assert.equal(ring.recent({ level: 0, text: '', limit: 2 }).length, 2);
  ring.close();
  ring.write(line(LOG_LEVELS.error, 'after close'));
  assert.equal(ring.recent({ level: 0, text: '', limit: 1 })[0]!.msg, 'after close');

  // A torn last line (the process killed mid-write) is skipped.
  writeFileSync(join(directory, 'server.log'), '{"level":30,"msg":"tor', { flag: 'a' });
  const restarted = new LogRing({ directory, capacity: 5, print: () => {} });
  assert.deepEqual(
    restarted.recent({ level: 0, text: '', limit: 100 }).map((e) => e.msg),
    ['line 7', 'line 6', 'line 5', 'line 4', 'line 3'],
  );
  restarted.close();
});

test('the file is rotated past its size, so the disk holds at most two files', () => {
  const directory = folder();
  const ring = new LogRing({ directory, capacity: 10_000, fileBytes: 2000, print: () => {} });
  for (let i = 0; i < 200; i++) ring.write(line(LOG_LEVELS.info, `message number ${i}`));
  ring.close();
  const current = join(directory, 'server.log');
  assert.ok(existsSync(`${current}.1`));
  assert.ok(statSync(current).size <= 2000);
  assert.ok(statSync(`${current}.1`).size <= 2000);
  const kept = readFileSync(current, 'utf8').trim().split('\n');
  assert.match(kept.at(-1)!, /message number 199/);
  const restarted = new LogRing({ directory, capacity: 10_000, fileBytes: 2000, print: () => {} });
  const back = restarted.recent({ level: 0, text: '', limit: 10_000 });
  assert.equal(back[0]!.msg, 'message number 199');
  assert.ok(back.length < 200 && back.length > 20, `the two files' lines: ${back.length}`);
  restarted.close();
});

test('secrets never reach the screen, the ring or the file', () => {
  const directory = folder();
  const printed: string[] = [];
  const ring = new LogRing({ directory, print: (text) => printed.push(text) });
  const secrets = [
    'sk-ownlm-AbCdEf0123456789_-xyz',
    'ow-worker-QWERTYuiop0987654321',
    'whsec_zzzzYYYYxxxx1111',
    'hunter2-the-password',
    'cookie-session-value',
    'bearer-credential-123',
    'invitation-token-in-url',
  ];
  ring.write(
    line(LOG_LEVELS.info, 'incoming request', {
      req: {
        method: 'POST',
        url: `/api/invitations/accept?token=${secrets[6]}&next=/`,
        headers: { authorization: `Bearer ${secrets[5]}`, cookie: `ownlm_session=${secrets[4]}` },
      },
      body: { email: 'a@example.com', password: secrets[3], newPassword: secrets[3] },
      usage: { promptTokens: 12, completionTokens: 3 },
    }),
  );
  ring.write(
    line(LOG_LEVELS.warn, `key ${secrets[0]} failed; worker ${secrets[1]}; hook signed with ${secrets[2]}`),
  );
  ring.write(line(LOG_LEVELS.error, 'failed', { err: { message: `upstream said Bearer ${secrets[5]}` } }));
  ring.write(`not json: Bearer ${secrets[5]}\n`);
  ring.close();
  const everywhere = [
    printed.join(''),
    JSON.stringify(ring.recent({ level: 0, text: '', limit: 100 })),
    readFileSync(join(directory, 'server.log'), 'utf8'),
  ];
  for (const text of everywhere)
    for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} leaked into ${text}`);
  const [, warned, request] = ring.recent({ level: 0, text: '', limit: 100 });
  assert.deepEqual(request!.fields.usage as object, { promptTokens: 12, completionTokens: 3 }, 'counts stay');
  assert.equal((request!.fields.body as { email: string }).email, 'a@example.com');
  assert.match(
    (request!.fields.req as { url: string }).url,
    /^\/api\/invitations\/accept\?token=\[redacted\]&next=\/$/,
  );
  assert.match(warned!.msg, /^key \[redacted\] failed; worker \[redacted\]; hook signed with \[redacted\]$/);
});
