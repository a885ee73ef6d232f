// serve-load: N streaming chats at once over HTTP, `POST /v1/chat/completions` with an API key against the real
// server (buildApp on loopback, its default sequences and queue) (N = 1, 4, 16, 64 by default):
// refused or failed requests, aggregate tokens/s, p50/p99 time to first token, the server's event-loop delay
// (p99, monitorEventLoopDelay at 1 ms resolution) and process RSS before and after. The peer, measured in the
// same run on the same GGUF with the same thread count: node-llama-cpp called directly, with a context of as
// many sequences as the runtime has and the N chats handed to them in arrival order (what the runtime's queue
// does). The model is an engine preset with random weights at Q8_0; sampling at temperature 0.8, seeded.
// The runtime keeps the prompt prefix a sequence already holds (here the template's opening tokens); the peer
// evaluates every prompt whole.
// The server uses its configured sequences per model (default 4), queue (64) and llama.cpp threads (cores - 1),
// which are also this benchmark's defaults for the peer.
// Usage: npm run bench -- serve-load [--preset small|base] [--concurrency 1,4,16,64] [--tokens N]
//        [--sequences N] [--threads N]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { getLlama, JinjaTemplateChatWrapper, LlamaLogLevel, type LlamaContextSequence } from 'node-llama-cpp';
import type { ModelPresetName } from '../packages/engine/src/index.ts';
import { defaultThreads } from '../packages/server/src/serve/llama-models.ts';
import { inspectModelFile } from '../packages/server/src/serve/model-file.ts';
import { presetModel } from '../packages/server/src/testing/tiny-model.ts';
import { startBenchServer, streamChat } from './lib/serve.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'base' },
    concurrency: { type: 'string', default: '1,4,16,64' },
    tokens: { type: 'string', default: '64' },
    sequences: { type: 'string', default: '4' },
    threads: { type: 'string', default: String(defaultThreads()) },
  },
});
const levels = values.concurrency.split(',').map(Number);
const maxTokens = Number(values.tokens);
const sequences = Number(values.sequences);
const threads = Number(values.threads);
const path = await presetModel(values.preset as ModelPresetName);
const file = inspectModelFile(path);
const contextSize = Math.min(file.trainContextLength, 4096);
const question = (level: number, i: number) =>
  `Chat ${level}-${i}: what happened at the harbour last winter?`;
const megabytes = () => (process.memoryUsage().rss / 2 ** 20).toFixed(0);
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

interface Level {
  errors: number;
  tokensPerSecond: number;
  ttftMs: number[];
}

/** Starts `n` chats at once; each resolves its time to first token and its token count, or rejects. */
async function level(
  n: number,
  chat: (i: number) => Promise<{ ttftMs: number; tokens: number }>,
): Promise<Level> {
  const start = performance.now();
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => chat(i)));
  const seconds = (performance.now() - start) / 1000;
  const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  return {
    errors: n - done.length,
    tokensPerSecond: done.reduce((sum, r) => sum + r.tokens, 0) / seconds,
    ttftMs: done.map((r) => r.ttftMs),
  };
}

const llama = await getLlama({
  gpu: false,
  build: 'never',
  skipDownload: true,
  progressLogs: false,
  logLevel: LlamaLogLevel.error,
});
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
const context = await model.createContext({ contextSize, sequences, threads });
const free: LlamaContextSequence[] = Array.from({ length: sequences }, () => context.getSequence());
const waiting: ((sequence: LlamaContextSequence) => void)[] = [];
const wrapper = new JinjaTemplateChatWrapper({
  template: file.chatTemplate!,
  reasoning: null,
  tokenizer: model.tokenizer,
});

async function direct(levelSize: number, i: number) {
  const start = performance.now();
  const sequence =
    free.pop() ?? (await new Promise<LlamaContextSequence>((resolve) => waiting.push(resolve)));
  try {
    const prompt = wrapper
      .generateContextState({
        chatHistory: [
          { type: 'user', text: question(levelSize, i) },
          { type: 'model', response: [] },
        ],
      })
      .contextText.tokenize(model.tokenizer);
    await sequence.clearHistory();
    let ttftMs = 0;
    let tokens = 0;
    const sampling = { temperature: 0.8, topK: 0, topP: 1, minP: 0, seed: i, yieldEogToken: true };
    for await (const token of sequence.evaluate(prompt, sampling)) {
      if (model.isEogToken(token)) break;
      model.detokenize([token]);
      if (++tokens === 1) ttftMs = performance.now() - start;
      if (tokens === maxTokens) break;
    }
    return { ttftMs, tokens };
  } finally {
    const next = waiting.shift();
    if (next) next(sequence);
    else free.push(sequence);
  }
}

const server = await startBenchServer(path);

async function served(levelSize: number, i: number) {
  const start = performance.now();
  let ttftMs = 0;
  let tokens = 0;
  const body = {
    messages: [{ role: 'user', content: question(levelSize, i) }],
    max_tokens: maxTokens,
    temperature: 0.8,
    seed: i,
  };
  for await (const piece of streamChat(server, body)) {
    if (typeof piece === 'string') ttftMs ||= performance.now() - start;
    else tokens = piece;
  }
  return { ttftMs, tokens };
}

console.log(
  `model: ${values.preset} preset, ${(file.parameterCount / 1e6).toFixed(0)} M parameters, Q8_0, random weights; ` +
    `${maxTokens} tokens per chat, ${sequences} sequences, ${threads} llama.cpp thread(s)`,
);
await direct(0, 0);
await served(0, 0);
console.log(
  '   N  path       errors  tokens/s  first token p50/p99 ms  loop delay p99 ms  RSS MB before→after  tokens/s ratio',
);
for (const n of levels) {
  const rssBeforePeer = megabytes();
  const peer = await level(n, (i) => direct(n, i));
  const rssAfterPeer = megabytes();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const ours = await level(n, (i) => served(n, i));
  delay.disable();
  const rssAfter = megabytes();
  const row = (name: string, r: Level, loop: string, rss: string, ratio: string) =>
    console.log(
      `${String(n).padStart(4)}  ${name.padEnd(9)}  ${String(r.errors).padStart(6)}  ${r.tokensPerSecond.toFixed(1).padStart(8)}` +
        `  ${`${percentile(r.ttftMs, 50).toFixed(0)} / ${percentile(r.ttftMs, 99).toFixed(0)}`.padStart(22)}` +
        `  ${loop.padStart(17)}  ${rss.padStart(20)}  ${ratio.padStart(14)}`,
    );
  row('peer', peer, '', `${rssBeforePeer}→${rssAfterPeer}`, '');
  row(
    'http',
    ours,
    (delay.percentile(99) / 1e6).toFixed(1),
    `${rssAfterPeer}→${rssAfter}`,
    (ours.tokensPerSecond / peer.tokensPerSecond).toFixed(2),
  );
}
await server.close();
await context.dispose();
await model.dispose();
