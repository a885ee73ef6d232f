// The llama.cpp runtime on a real GGUF: a tiny chat Llama, trained and exported by the fixture. Expected
// values come from elsewhere: the chat template rendered by the studio's Jinja tokenizer, token counts from
// llama.cpp itself, greedy continuations from the engine on the same weights.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateTokens } from '@ownlm/engine';
import { loadModelFolder, type LoadedModel } from '@ownlm/studio';
import { getLlama } from 'node-llama-cpp';
import { AppError } from '../errors.ts';
import { tinyModel, type ModelFiles } from '../testing/tiny-model.ts';
import { createLlamaRuntime, type LlamaRuntime, type LlamaRuntimeOptions } from './llama-runtime.ts';
import { inspectModelFile, residentBytes } from './model-file.ts';
import type { GenerationEvent, GenerationOptions, RuntimeMessage } from './runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-runtime-'));
let files: ModelFiles;
let engine: LoadedModel;
const runtimes: LlamaRuntime[] = [];

function runtime(options: Partial<LlamaRuntimeOptions> = {}): LlamaRuntime {
  const created = createLlamaRuntime({
    resolveModel: async (id) => (id.startsWith('tiny') ? { path: files.gguf } : null),
    threads: 1,
    ...options,
  });
  runtimes.push(created);
  return created;
}

before(async () => {
  files = await tinyModel();
  engine = loadModelFolder(files.folder);
});
after(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

const never = new AbortController().signal;

function options(overrides: Partial<GenerationOptions> = {}): GenerationOptions {
  return { maxTokens: 24, temperature: 0, topP: 1, stop: [], signal: never, ...overrides };
}

async function collect(events: AsyncIterable<GenerationEvent>) {
  let text = '';
  let deltas = 0;
  let finish: Extract<GenerationEvent, { type: 'finish' }> | null = null;
  for await (const event of events) {
    assert.equal(finish, null, 'nothing follows the finish event');
    if (event.type === 'text-delta') {
      text += event.text;
      deltas++;
    } else finish = event;
  }
  assert.ok(finish, 'a finish event ends the stream');
  return { text, deltas, ...finish };
}

/** The engine's greedy continuation, decoded, stopping where the runtime stops (end of text, end of turn). */
function engineGreedy(ids: ArrayLike<number>, maxNewTokens: number) {
  const { model, tokenizer } = engine;
  const ends = [tokenizer.eosId!, tokenizer.tokenToId('<|im_end|>')!];
  const out = [
    ...generateTokens(model, Int32Array.from(ids), { temperature: 0, maxNewTokens, stopTokens: ends }),
  ];
  const ended = ends.includes(out.at(-1)!);
  const generated = ended ? out.slice(0, -1) : out;
  return { text: tokenizer.decode(generated, { skipSpecialTokens: true }), tokens: generated.length, ended };
}

const messages: RuntimeMessage[] = [
  { role: 'system', content: 'Reply in JSON.' },
  { role: 'user', content: 'Hello there' },
];
const question: RuntimeMessage[] = [
  { role: 'user', content: 'Hugo carries water (cold, clear water) to Ines.' },
];
const prose = 'Anna sees the moon over the river, then calls Boris. Boris';

test('streamed chat: text deltas, then a finish with usage; the prompt is the embedded template, tokenized by llama.cpp', async () => {
  const served = runtime();
  const info = await served.info('tiny');
  assert.equal(info.chatTemplate, engine.tokenizer.chatTemplate, "the GGUF's template is the tokenizer's");
  assert.equal(info.contextLength, 64);
  assert.equal(info.embeddingSize, 64);
  assert.equal(
    info.parameterCount,
    [...engine.model.parameters.values()].reduce((n, p) => n + p.size, 0),
  );

  const result = await collect(served.chat('tiny', messages, options({ maxTokens: 30 })));
  assert.ok(result.text.length > 0 && result.deltas > 1, 'text arrives in several deltas');
  // Whether the tiny model ends its turn before its context (64) is full depends on its weights, which differ
  // in the last bits between CPUs (the kernels' SIMD paths); the engine on the same weights says which it is.
  // An ending <|im_end|> is a stop and not text.
  const ids = engine.tokenizer.encodeChat(
    messages.map((m) => ({ ...m })),
    { addGenerationPrompt: true },
  );
  const expected = engineGreedy(ids, 30);
  assert.equal(result.finishReason, expected.ended ? 'stop' : 'length');
  assert.equal(result.text, expected.text);
  assert.ok(!result.text.includes('<|'), result.text);
  assert.equal(result.usage.completionTokens, expected.tokens + (expected.ended ? 1 : 0));

  const rendered = engine.tokenizer.applyChatTemplate(
    messages.map((m) => ({ ...m })),
    { addGenerationPrompt: true },
  );
  assert.ok(rendered.endsWith('<|im_start|>assistant\n'));
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true });
  const model = await llama.loadModel({ modelPath: files.gguf });
  try {
    assert.equal(result.usage.promptTokens, model.tokenize(rendered, true).length);
  } finally {
    await model.dispose();
  }
});

test("greedy decoding is deterministic and equals the engine's, for chat and raw completion", async () => {
  const served = runtime();
  const ids = engine.tokenizer.encodeChat(
    messages.map((m) => ({ ...m })),
    { addGenerationPrompt: true },
  );
  const expected = engineGreedy(ids, 30);
  const first = await collect(served.chat('tiny', messages, options({ maxTokens: 30 })));
  const second = await collect(served.chat('tiny', messages, options({ maxTokens: 30 })));
  assert.equal(first.text, expected.text);
  assert.equal(second.text, first.text);
  assert.equal(first.usage.completionTokens, expected.tokens);
  assert.equal(first.finishReason, expected.ended ? 'stop' : 'length');

  const raw = await collect(served.complete('tiny', prose, options({ maxTokens: 30 })));
  const reference = engineGreedy(engine.tokenizer.encode(prose), 30);
  assert.equal(raw.text, reference.text);
  assert.equal(raw.usage.promptTokens, engine.tokenizer.encode(prose).length);
});

test('sampling with a seed repeats; max tokens ends with length after exactly that many tokens', async () => {
  const served = runtime();
  const sampled = options({ temperature: 1, topP: 0.9, seed: 42, maxTokens: 16 });
  const a = await collect(served.complete('tiny', 'Felix writes', sampled));
  const b = await collect(served.complete('tiny', 'Felix writes', sampled));
  assert.equal(a.text, b.text);

  const short = await collect(served.complete('tiny', prose, options({ maxTokens: 5 })));
  assert.equal(short.finishReason, 'length');
  assert.equal(short.usage.completionTokens, 5);
  assert.equal(short.text, engineGreedy(engine.tokenizer.encode(prose), 5).text);
});

test('a stop string cuts the output before it and is not included', async () => {
  const served = runtime();
  const full = await collect(served.complete('tiny', prose, options({ maxTokens: 30 })));
  assert.match(full.text, /red boats/);
  const cut = await collect(
    served.complete('tiny', prose, options({ maxTokens: 30, stop: ['nothing', 'red boats'] })),
  );
  assert.equal(cut.finishReason, 'stop');
  assert.equal(cut.text, full.text.slice(0, full.text.indexOf('red boats')));
  assert.ok(cut.usage.completionTokens < full.usage.completionTokens);
});

test('json_object and json_schema output parses, where the same request without a grammar does not', async () => {
  const served = runtime();
  const plain = await collect(served.chat('tiny', question, options({ maxTokens: 30 })));
  assert.throws(() => JSON.parse(plain.text));
  const object = await collect(
    served.chat('tiny', question, options({ maxTokens: 40, responseFormat: { type: 'json_object' } })),
  );
  assert.equal(typeof JSON.parse(object.text), 'object');
  const schema = {
    type: 'object',
    properties: { name: { type: 'string' }, next: { type: 'string' } },
    required: ['name', 'next'],
  };
  const typed = await collect(
    served.chat(
      'tiny',
      question,
      options({ maxTokens: 40, responseFormat: { type: 'json_schema', schema } }),
    ),
  );
  const value = JSON.parse(typed.text) as { name: unknown; next: unknown };
  assert.deepEqual(Object.keys(value), ['name', 'next']);
  assert.equal(typeof value.next, 'string');
  assert.equal(typed.finishReason, 'stop');
});

test('abort mid-generation ends the stream within a second and gives the sequence back', async () => {
  const served = runtime({ parallelSequences: 1, maxQueue: 1 });
  const controller = new AbortController();
  let abortedAt = 0;
  let text = '';
  let finish: Extract<GenerationEvent, { type: 'finish' }> | null = null;
  for await (const event of served.complete(
    'tiny',
    'Anna',
    options({ maxTokens: 50, signal: controller.signal }),
  )) {
    if (event.type === 'finish') finish = event;
    else {
      text += event.text;
      if (!abortedAt) {
        abortedAt = performance.now();
        controller.abort();
      }
    }
  }
  assert.ok(performance.now() - abortedAt < 1000);
  assert.equal(finish?.finishReason, 'cancelled');
  assert.ok(finish.usage.completionTokens < 50 && text.length > 0);
  // The only sequence is free again: the next request is served, not queued forever or refused.
  assert.equal(
    (await collect(served.complete('tiny', prose, options({ maxTokens: 3 })))).finishReason,
    'length',
  );
});

test('a full queue refuses with overloaded; a queued request that aborts frees its place', async () => {
  const served = runtime({ parallelSequences: 1, maxQueue: 1 });
  const running = served.complete('tiny', prose, options({ maxTokens: 30 }))[Symbol.asyncIterator]();
  assert.equal((await running.next()).value?.type, 'text-delta', 'the only sequence is now held');

  const leaving = new AbortController();
  const queued = collect(served.complete('tiny', prose, options({ signal: leaving.signal })));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await assert.rejects(collect(served.complete('tiny', prose, options())), (error: AppError) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'overloaded');
    return true;
  });
  leaving.abort();
  assert.equal((await queued).finishReason, 'cancelled');

  const waiting = collect(served.complete('tiny', prose, options({ maxTokens: 4 })));
  await running.return?.();
  assert.equal((await waiting).usage.completionTokens, 4);
});

test('over the memory budget the least recently used model is unloaded', async () => {
  const file = inspectModelFile(files.gguf);
  const one = residentBytes(file, 64, 2);
  const served = runtime({ memoryBudgetBytes: Math.floor(one * 1.5), parallelSequences: 2 });
  const ask = (id: string) => collect(served.complete(id, prose, options({ maxTokens: 2 })));
  await ask('tiny-a');
  assert.deepEqual(served.loadedModels(), ['tiny-a']);
  await ask('tiny-b');
  assert.deepEqual(served.loadedModels(), ['tiny-b']);
  await ask('tiny-a');
  assert.deepEqual(served.loadedModels(), ['tiny-a']);
  await served.unload('tiny-a');
  assert.deepEqual(served.loadedModels(), []);

  const tooSmall = runtime({ memoryBudgetBytes: one - 1, parallelSequences: 2 });
  await assert.rejects(collect(tooSmall.complete('tiny', prose, options())), /more than the memory budget/);
});

test('a malformed GGUF is refused within a second by an error naming the file', async () => {
  // The header claims one key whose name is 2^40 bytes long; the file ends right after.
  const bad = join(dir, 'truncated.gguf');
  const header = Buffer.alloc(32);
  header.write('GGUF', 0, 'latin1');
  header.writeUInt32LE(3, 4);
  header.writeBigUInt64LE(0n, 8);
  header.writeBigUInt64LE(1n, 16);
  header.writeBigUInt64LE(2n ** 40n, 24);
  writeFileSync(bad, header);
  const served = runtime({ resolveModel: async () => ({ path: bad }) });
  for (const attempt of [
    () => collect(served.chat('bad', messages, options())),
    () => served.info('bad'),
    () => served.tokenize('bad', 'hello'),
  ]) {
    const started = performance.now();
    await assert.rejects(attempt(), (error: AppError) => {
      assert.equal(error.code, 'server_error');
      assert.ok(error.message.includes(bad), error.message);
      return true;
    });
    assert.ok(performance.now() - started < 1000);
  }
  // The same bytes at the head of a real model file are refused just as fast.
  const real = readFileSync(files.gguf);
  const cutShort = join(dir, 'cut-short.gguf');
  writeFileSync(cutShort, real.subarray(0, real.length >> 1));
  await assert.rejects(
    runtime({ resolveModel: async () => ({ path: cutShort }) }).info('x'),
    /cut-short\.gguf/,
  );
});

test("a model's file header is read once, and again when the file's size or modification time changes", async () => {
  const path = join(dir, 'info.gguf');
  copyFileSync(files.gguf, path);
  const written = new Date('2025-01-01T00:00:00Z');
  utimesSync(path, written, written);
  const served = runtime({ resolveModel: async () => ({ path }) });
  const info = await served.info('x');
  // Bytes that are no GGUF, with the same size and modification time: an info that read the header would fail.
  writeFileSync(path, Buffer.alloc(readFileSync(path).length));
  utimesSync(path, written, written);
  for (let request = 0; request < 3; request++) assert.deepEqual(await served.info('x'), info);
  const rewritten = new Date(written.getTime() + 1000);
  utimesSync(path, rewritten, rewritten);
  await assert.rejects(served.info('x'), /info\.gguf is not a valid GGUF/);
  copyFileSync(files.gguf, path);
  assert.deepEqual(await served.info('x'), info);
});

test('unknown models, prompts longer than the context, embeddings and tokenization', async () => {
  const served = runtime();
  await assert.rejects(collect(served.chat('nope', messages, options())), (error: AppError) => {
    assert.equal(error.code, 'model_not_found');
    assert.match(error.message, /'nope'/);
    return true;
  });
  await assert.rejects(
    collect(served.complete('tiny', 'Anna sees the moon. '.repeat(20), options())),
    (error: AppError) => error.code === 'context_length_exceeded',
  );

  const text = 'Greta follows the road north; at night she meets Hugo.';
  assert.deepEqual(await served.tokenize('tiny', text), [...engine.tokenizer.encode(text)]);
  assert.deepEqual(await served.tokenize('tiny', '<|im_end|>'), [
    ...engine.tokenizer.encode('<|im_end|>', { parseSpecial: false }),
  ]);

  const { vectors, promptTokens } = await served.embed('tiny', [text, 'Hugo carries water', text]);
  assert.equal(vectors.length, 3);
  assert.equal(vectors[0].length, 64);
  assert.equal(
    promptTokens,
    2 * engine.tokenizer.encode(text).length + engine.tokenizer.encode('Hugo carries water').length,
  );
  assert.deepEqual(vectors[2], vectors[0]);
  assert.notDeepEqual(vectors[1], vectors[0]);
});
