import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { startTestPostgres, type TestPostgres } from '../testing/postgres.ts';
import { openPostgres, type DatabaseHandle } from './database.ts';

let server: TestPostgres;
let handle: DatabaseHandle;
const idleErrors: Error[] = [];
type Result = { rows: Record<string, unknown>[] };

before(async () => {
  server = await startTestPostgres();
  handle = await openPostgres(server.url, (error) => idleErrors.push(error));
});
after(async () => {
  await handle?.close();
  await server?.stop();
});

test('a pooled connection the server terminates is reported, not thrown, and the next query reconnects', async () => {
  const { rows } = (await handle.db.execute(sql`select pg_backend_pid() as pid`)) as unknown as Result;
  const pid = Number(rows[0].pid);
  const admin = await openPostgres(server.url);
  try {
    await admin.db.execute(sql`select pg_terminate_backend(${pid})`);
  } finally {
    await admin.close();
  }
  for (let i = 0; i < 50 && idleErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(idleErrors.length, 1);
  assert.match(idleErrors[0].message, /terminating connection/);
  const again = (await handle.db.execute(sql`select 1 as one`)) as unknown as Result;
  assert.equal(Number(again.rows[0].one), 1);
});
