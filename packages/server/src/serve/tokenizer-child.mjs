// The runtime's tokenizer process (./tokenizer-process.ts): llama.cpp with each model's vocabulary only (no
// weights), answering one request at a time over IPC. Plain JavaScript, so it starts without the TypeScript
// loader; llama.cpp is loaded with the options of the studio's loadLlamaCpp (CPU, nothing downloaded or built).
import { getLlama, LlamaLogLevel, LlamaText } from 'node-llama-cpp';

/** Vocabularies kept open, most recently used last. */
const KEPT = 4;
const llama = getLlama({
  gpu: false,
  build: 'never',
  skipDownload: true,
  progressLogs: false,
  logLevel: LlamaLogLevel.error,
});
const vocabularies = new Map();

async function vocabulary(path) {
  let model = vocabularies.get(path);
  if (model) vocabularies.delete(path);
  else model = llama.then((loaded) => loaded.loadModel({ modelPath: path, gpuLayers: 0, vocabOnly: true }));
  vocabularies.set(path, model);
  try {
    await model;
  } catch (error) {
    vocabularies.delete(path);
    throw error;
  }
  // Requests are answered one at a time, so an evicted vocabulary is in no one's hands.
  if (vocabularies.size > KEPT) {
    const [oldest, evicted] = vocabularies.entries().next().value;
    vocabularies.delete(oldest);
    await (await evicted).dispose();
  }
  return model;
}

async function answer(request) {
  const model = await vocabulary(request.path);
  if (request.texts) return Uint32Array.from(request.texts, (text) => model.tokenize(text, false).length);
  if (request.llamaText)
    return Uint32Array.from(LlamaText.fromJSON(request.llamaText).tokenize(model.tokenizer));
  return Uint32Array.from(model.tokenize(request.text, request.special));
}

let queue = Promise.resolve();
process.on('message', (request) => {
  queue = queue.then(async () => {
    try {
      process.send({ id: request.id, value: await answer(request) });
    } catch (error) {
      process.send({ id: request.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
});
// The server went away without closing the runtime.
process.on('disconnect', () => process.exit(0));
