import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StopStringFilter } from './stop-strings.ts';

/** Feeds the pieces; returns the emitted text and whether a stop string ended it. */
function run(stops: string[], pieces: string[], trimEnd = false): { text: string; stopped: boolean } {
  const filter = new StopStringFilter(stops, trimEnd);
  let text = '';
  for (const piece of pieces) {
    const out = filter.push(piece);
    text += out.text;
    if (out.stopped) return { text, stopped: true };
  }
  return { text: text + filter.flush(), stopped: false };
}

test('a stop string split across pieces is cut with everything after it', () => {
  assert.deepEqual(run(['END'], ['abc E', 'N', 'D tail']), { text: 'abc ', stopped: true });
  assert.deepEqual(run(['\n\n'], ['line\n', '\nnext']), { text: 'line', stopped: true });
});

test('the earliest of several stop strings wins', () => {
  assert.deepEqual(run(['yz', 'b'], ['a', 'b', 'yz']), { text: 'a', stopped: true });
  assert.deepEqual(run(['cd', 'bcde'], ['abcde']), { text: 'a', stopped: true });
});

test('held-back text that did not become a stop string is emitted, in order', () => {
  const filter = new StopStringFilter(['STOP']);
  assert.deepEqual(filter.push('go ST'), { text: 'go ', stopped: false });
  assert.deepEqual(filter.push('O'), { text: '', stopped: false });
  assert.deepEqual(filter.push('x'), { text: 'STOx', stopped: false });
  assert.deepEqual(filter.push('S'), { text: '', stopped: false });
  assert.equal(filter.flush(), 'S');
});

test('a stop string at the very start yields no text; no stops pass everything through', () => {
  assert.deepEqual(run(['Hi'], ['Hi there']), { text: '', stopped: true });
  assert.deepEqual(run([], ['a', 'b']), { text: 'ab', stopped: false });
  assert.deepEqual(run([''], ['a', 'b']), { text: 'ab', stopped: false });
});

test('with trimEnd, trailing whitespace waits for more text and is dropped at the end', () => {
  const filter = new StopStringFilter(['\n\n\n\n'], true);
  assert.deepEqual(filter.push('{ "a": 1 '), { text: '{ "a": 1', stopped: false });
  assert.deepEqual(filter.push('}\n'), { text: ' }', stopped: false });
  assert.deepEqual(filter.push('\n'), { text: '', stopped: false });
  assert.equal(filter.flush(), '');
  assert.deepEqual(run(['\n\n\n\n'], ['}\n\n', '\n\n\n'], true), { text: '}', stopped: true });
});
