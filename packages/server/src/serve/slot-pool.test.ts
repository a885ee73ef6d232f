import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import { SlotPool } from './slot-pool.ts';

const never = new AbortController().signal;

test('slots go to waiters first-come; a full queue is refused with overloaded', async () => {
  const pool = new SlotPool(['a'], 2, "model 'm'");
  assert.equal(await pool.acquire(never), 'a');
  const first = pool.acquire(never);
  const second = pool.acquire(never);
  await assert.rejects(pool.acquire(never), (error: AppError) => {
    assert.equal(error.code, 'overloaded');
    assert.match(error.message, /model 'm' is busy/);
    return true;
  });
  pool.release('a');
  assert.equal(await first, 'a');
  pool.release('a');
  assert.equal(await second, 'a');
  assert.equal(pool.queued, 0);
});

test('an aborted waiter resolves null and gives its place in the queue back', async () => {
  const pool = new SlotPool(['a'], 1, 'pool');
  await pool.acquire(never);
  const controller = new AbortController();
  const waiting = pool.acquire(controller.signal);
  controller.abort();
  assert.equal(await waiting, null);
  assert.equal(pool.queued, 0);
  const next = pool.acquire(never);
  pool.release('a');
  assert.equal(await next, 'a');
});

test('the preferred free slot is taken; queued requests can be refused all at once', async () => {
  const pool = new SlotPool(['short', 'longest', 'mid'], 1, 'pool');
  assert.equal(await pool.acquire(never, (s) => s.length), 'longest');
  await pool.acquire(never);
  await pool.acquire(never);
  const waiting = pool.acquire(never);
  pool.rejectQueued(new AppError('overloaded', 'unloaded'));
  await assert.rejects(waiting, /unloaded/);
});
