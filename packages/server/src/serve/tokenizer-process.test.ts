// The runtime tokenizes in its tokenizer process, on the tiny chat Llama: the event loop stays free while
// megabytes are tokenized, the ids and counts are llama.cpp's own (tokenizing in this thread is the reference),
// counts of many texts sent in several batches come back in order, and no token of the vocabulary stands for
// more bytes than the model file's maxTokenBytes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
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

test("tokenizing megabytes leaves the event loop free; the ids are llama.cpp's", async () => {
  await served.tokenize('tiny', 'the process and the model are ready');
  const text = 'Greta follows the road north; at night she meets Hugo. '.repeat(40_000);
  let longestGap = 0;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  };
  const timer = setInterval(tick, 5);
  const ids = await served.tokenize('tiny', text);
  // A tokenization that held the event loop ends with no tick after it: the time since the last one counts.
  tick();
  clearInterval(timer);
  // In this thread llama.cpp takes over a second for these 2.2 MB (0.5 s per 900 KB measured); here the event
  // loop only copies the ids back.
  assert.ok(longestGap < 300, `the event loop was held ${longestGap.toFixed(0)} ms`);
  assert.deepEqual(ids, reference.tokenize(text, false));
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
