import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readServerEvents } from './sse.ts';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(chunks: string[]) {
  const events = [];
  for await (const event of readServerEvents(streamOf(chunks))) events.push(event);
  return events;
}

test('events split across chunks, with every line ending, parse whole', async () => {
  const text =
    ': comment\n\nevent: text-delta\ndata: {"text":"Hel"}\n\r\nevent: text-delta\r\ndata: {"text":"lo"}\r\r' +
    'data: first\ndata:second\nid: 7\n\nevent: message-finished\ndata: {}\n\n';
  const expected = [
    { event: 'text-delta', data: '{"text":"Hel"}' },
    { event: 'text-delta', data: '{"text":"lo"}' },
    { event: 'message', data: 'first\nsecond' },
    { event: 'message-finished', data: '{}' },
  ];
  assert.deepEqual(await collect([text]), expected);
  // Every split point, including between the CR and LF of a CRLF.
  for (let i = 1; i < text.length; i++) {
    assert.deepEqual(await collect([text.slice(0, i), text.slice(i)]), expected, `split at ${i}`);
  }
});

test('multi-byte characters split between chunks survive', async () => {
  const bytes = new TextEncoder().encode('data: {"text":"héllo 🙂"}\n\n');
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
      controller.close();
    },
  });
  const events = [];
  for await (const event of readServerEvents(stream)) events.push(event);
  assert.deepEqual(events, [{ event: 'message', data: '{"text":"héllo 🙂"}' }]);
});

test('an unfinished last event is dropped', async () => {
  assert.deepEqual(await collect(['data: done\n\ndata: cut']), [{ event: 'message', data: 'done' }]);
});
