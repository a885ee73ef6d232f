// The runtime tokenizes in its tokenizer process, on the tiny chat Llama: the event loop stays free while
// megabytes are tokenized or offered for embedding, the ids and counts are llama.cpp's own (tokenizing in this
// thread is the reference), counts of many texts sent in several batches come back in order, and no token of the
// vocabulary stands for more bytes than the model file's maxTokenBytes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import type { AppError } from '../errors.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { createLlamaRuntime, type LlamaRuntime } from './llama-runtime.ts';
import { inspectModelFile } from './model-file.ts';

let gguf: string;
let served: LlamaRuntime;
let reference: LlamaModel;

before(async () => {
  gguf = (await tinyModel()).gguf;
  served = createLlamaRuntime({ resolveModel: async () => ({ path: gguf }), threads: 1 });
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true });
  reference = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
});
after(async () => {
  await served.close();
  await reference.dispose();
});

/** The longest time the event loop went without a timer tick while `operation` ran. */
async function longestHold(operation: () => Promise<unknown>): Promise<number> {
  let longestGap = 0;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  };
  const timer = setInterval(tick, 5);
  try {
    await operation();
  } finally {
    // An operation that held the event loop ends with no tick after it: the time since the last one counts.
    tick();
    clearInterval(timer);
  }
  return longestGap;
}

test("tokenizing megabytes leaves the event loop free; the ids are llama.cpp's", async () => {
  await served.tokenize('tiny', 'the process and the model are ready');
  const text = 'Greta follows the road north; at night she meets Hugo. '.repeat(40_000);
  let ids: number[] = [];
  const held = await longestHold(async () => (ids = await served.tokenize('tiny', text)));
  // In this thread llama.cpp takes over a second for these 2.2 MB (0.5 s per 900 KB measured); here the event
  // loop only copies the ids back.
  assert.ok(held < 300, `the event loop was held ${held.toFixed(0)} ms`);
  assert.deepEqual(ids, reference.tokenize(text, false));
});

test('embedding inputs are measured off the event loop: megabytes are refused by their bytes', async () => {
  await served.embed('tiny', ['the embedding context is ready']);
  const text = 'Greta follows the road north; at night she meets Hugo. '.repeat(40_000);
  const held = await longestHold(() =>
    assert.rejects(served.embed('tiny', ['Hugo', text]), (error: AppError) => {
      assert.equal(error.code, 'context_length_exceeded');
      assert.match(
        error.message,
        /^input 1 is 2200000 bytes; .* at most 63 tokens, which hold at most 832 bytes/,
      );
      return true;
    }),
  );
  // Measuring these 2.2 MB on this thread tokenized them, for over a second.
  assert.ok(held < 300, `the event loop was held ${held.toFixed(0)} ms`);
  // Within the bytes' bound, the tokens are counted exactly.
  const long = 'Anna sees the moon. '.repeat(30);
  await assert.rejects(served.embed('tiny', ['Hugo', long]), /^AppError: input 1 is \d+ tokens; /);
});

test("counts of many texts, sent in batches, are each text's tokens in order", async () => {
  // 3,000 different texts of about 700 characters: more than 2 MB, so more than two batches.
  const texts = Array.from(
    { length: 3000 },
    (_, i) => `Text ${i}: ${'Anna sees the moon rise. '.repeat(28)}`,
  );
  const counts = await served.countTokens('tiny', texts);
  assert.deepEqual(
    counts,
    texts.map((text) => reference.tokenize(text, false).length),
  );
  assert.deepEqual(await served.countTokens('tiny', []), []);
});

test("no token stands for more bytes than the file's maxTokenBytes", async () => {
  const { maxTokenBytes, vocabSize } = inspectModelFile(gguf);
  let longest = 0;
  for (let id = 0; id < vocabSize; id++)
    longest = Math.max(longest, Buffer.byteLength(reference.detokenize([id as never], true)));
  assert.ok(longest <= maxTokenBytes, `${longest} > ${maxTokenBytes}`);
  assert.equal((await served.info('tiny')).maxTokenBytes, maxTokenBytes);
});
