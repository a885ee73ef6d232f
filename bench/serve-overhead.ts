// serve-overhead: what ownlm's server adds to llama.cpp for one chat. Tokens/s after the first token and time
// to first token of a greedy chat streamed over HTTP, `POST /v1/chat/completions` with an API key against the
// real server (buildApp listening on loopback: authentication, validation, the runtime's hardened GGUF check,
// template, sequence pool, stop-string filter, SSE), beside the peer: node-llama-cpp called directly on the
// same GGUF, same template, prompt and thread count, in the same process and run, alternating round by round.
// Both must produce the same text. The model is an engine preset with random weights at Q8_0
// (what it says does not matter; its size does). Each round's question is new, so only the template's opening
// tokens are reused from the runtime's cache; the peer evaluates every prompt whole.
// Targets: at least 0.95 of the peer's tokens/s and at most 20 ms added to the first token.
// The server uses its configured llama.cpp threads (default: cores - 1), which is also this benchmark's default.
// Usage: npm run bench -- serve-overhead [--preset small|base] [--tokens N] [--rounds N] [--threads N]
import { parseArgs } from 'node:util';
import { getLlama, JinjaTemplateChatWrapper, LlamaLogLevel } from 'node-llama-cpp';
import type { ModelPresetName } from '../packages/engine/src/index.ts';
import { defaultThreads } from '../packages/server/src/serve/llama-models.ts';
import { inspectModelFile } from '../packages/server/src/serve/model-file.ts';
import { presetModel } from '../packages/server/src/testing/tiny-model.ts';
import { startBenchServer, streamChat } from './lib/serve.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'base' },
    tokens: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(defaultThreads()) },
  },
});
const maxTokens = Number(values.tokens);
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const path = await presetModel(values.preset as ModelPresetName);
const file = inspectModelFile(path);
const contextSize = Math.min(file.trainContextLength, 4096);
const question = (round: number) =>
  `Question ${round}: tell me about the old lighthouse keeper and the storm that came in the night.`;

interface Run {
  ttftMs: number;
  tokensPerSecond: number;
  tokens: number;
  text: string;
}

/** Times one streamed generation, which yields its text pieces, then the number of tokens generated. */
async function timed(generation: AsyncIterable<string | number>): Promise<Run> {
  const start = performance.now();
  let first = 0;
  let text = '';
  let tokens = 0;
  for await (const piece of generation) {
    if (typeof piece === 'number') tokens = piece;
    else {
      first ||= performance.now();
      text += piece;
    }
  }
  const seconds = (performance.now() - first) / 1000;
  return { ttftMs: first - start, tokensPerSecond: (tokens - 1) / seconds, tokens, text };
}

const llama = await getLlama({
  gpu: false,
  build: 'never',
  skipDownload: true,
  progressLogs: false,
  logLevel: LlamaLogLevel.error,
});
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
const context = await model.createContext({ contextSize, sequences: 1, threads });
const sequence = context.getSequence();
const wrapper = new JinjaTemplateChatWrapper({
  template: file.chatTemplate!,
  reasoning: null,
  tokenizer: model.tokenizer,
});

async function* direct(round: number): AsyncGenerator<string | number> {
  const prompt = wrapper
    .generateContextState({
      chatHistory: [
        { type: 'user', text: question(round) },
        { type: 'model', response: [] },
      ],
    })
    .contextText.tokenize(model.tokenizer);
  await sequence.clearHistory();
  let tokens = 0;
  const sampling = { temperature: 0, topK: 0, topP: 1, minP: 0, yieldEogToken: true };
  for await (const token of sequence.evaluate(prompt, sampling)) {
    if (model.isEogToken(token)) break;
    yield model.detokenize([token]);
    if (++tokens === maxTokens) break;
  }
  yield tokens;
}

const server = await startBenchServer(path);

function served(round: number): AsyncGenerator<string | number> {
  return streamChat(server, {
    messages: [{ role: 'user', content: question(round) }],
    max_tokens: maxTokens,
    temperature: 0,
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `model: ${values.preset} preset, ${(file.parameterCount / 1e6).toFixed(0)} M parameters, Q8_0, random weights; ` +
    `greedy, ${maxTokens} tokens, ${threads} llama.cpp thread(s); median of ${rounds} rounds`,
);
await timed(direct(-1));
await timed(served(-1));
const peer: Run[] = [];
const ours: Run[] = [];
for (let round = 0; round < rounds; round++) {
  peer.push(await timed(direct(round)));
  ours.push(await timed(served(round)));
  if (ours[round].text !== peer[round].text || ours[round].tokens !== peer[round].tokens)
    throw new Error(`round ${round}: the server and node-llama-cpp generated different text`);
}
const rate = (runs: Run[]) => median(runs.map((r) => r.tokensPerSecond));
const ttft = (runs: Run[]) => median(runs.map((r) => r.ttftMs));
console.log('path                                  tokens/s   first token ms');
console.log(
  `node-llama-cpp, direct (peer)         ${rate(peer).toFixed(1).padStart(8)}   ${ttft(peer).toFixed(1).padStart(14)}`,
);
console.log(
  `ownlm POST /v1/chat/completions      ${rate(ours).toFixed(1).padStart(8)}   ${ttft(ours).toFixed(1).padStart(14)}` +
    `   tokens/s ratio ${(rate(ours) / rate(peer)).toFixed(2)}, first token ${(ttft(ours) - ttft(peer)).toFixed(1)} ms added`,
);
await server.close();
await context.dispose();
await model.dispose();
