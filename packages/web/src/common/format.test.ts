import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatCount, formatDuration, titleFrom } from './format.ts';

test('durations, sizes and counts read naturally', () => {
  assert.equal(formatDuration(9.6), '10 s');
  assert.equal(formatDuration(185), '3 min 05 s');
  assert.equal(formatDuration(3720), '1 h 02 min');
  assert.equal(formatDuration(-3), '0 s');
  assert.equal(formatBytes(812), '812 B');
  assert.equal(formatBytes(25_690_112), '24.5 MiB');
  assert.equal(formatCount(1234567), '1,234,567');
});

test('chat titles come from the first line, cut at a word', () => {
  assert.equal(titleFrom('  Hello there\nsecond line'), 'Hello there');
  assert.equal(titleFrom(''), 'New chat');
  const long = 'Explain how the attention mechanism in a transformer decides which tokens matter most';
  assert.equal(titleFrom(long), 'Explain how the attention mechanism in a transformer…');
});
