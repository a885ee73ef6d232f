// llama.cpp is the reference: a model trained here, exported to GGUF, must tokenize and generate in llama.cpp
// (node-llama-cpp's prebuilt CPU build, unmodified) exactly as in the engine.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateTokens, type LlamaModel } from '@ownlm/engine';
import { generateTestStrings } from '../tokenizer/test-strings.ts';
import { TINY_PROMPTS, trainTinyModel, type TinyModel } from './fixtures/tiny-model.ts';
import { readGgufHeader } from './gguf.ts';
import { writeLlamaGguf, type GgufDtype, type HfTensor } from './gguf-llama.ts';
import { openLlamaCpp } from './llama-cpp.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-parity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let untied: TinyModel;
let tied: TinyModel;
before(async () => {
  // GQA (4 query heads, 2 key/value heads) checks that K is permuted with n_head_kv.
  untied = await trainTinyModel(join(dir, 'untied'), { steps: 300 });
  tied = await trainTinyModel(join(dir, 'tied'), {
    steps: 300,
    seed: 11,
    config: { tie_word_embeddings: true, num_key_value_heads: 4 },
  });
});

function tensorsOf(model: LlamaModel): Map<string, HfTensor> {
  return new Map([...model.parameters].map(([name, p]) => [name, { shape: p.shape, data: p.data }]));
}

function exportGguf(tiny: TinyModel, dtype: GgufDtype, name: string): string {
  const path = join(dir, `${name}-${dtype}.gguf`);
  writeLlamaGguf(path, {
    config: tiny.model.config,
    tensors: tensorsOf(tiny.model),
    tokenizerDir: tiny.tokenizerDir,
    dtype,
  });
  readGgufHeader(path);
  return path;
}

/** Compares greedy continuations of every prompt; returns a description of the first difference. */
async function compareGreedy(tiny: TinyModel, path: string, count: number): Promise<string[]> {
  const cpp = await openLlamaCpp(path, tiny.model.config.max_position_embeddings);
  const differences: string[] = [];
  try {
    for (const prompt of TINY_PROMPTS) {
      const ids = [...tiny.tokenizer.encode(prompt)];
      assert.ok(
        ids.length + count <= tiny.model.config.max_position_embeddings,
        'prompt and continuation fit',
      );
      const ours = [
        ...generateTokens(tiny.model, Int32Array.from(ids), { temperature: 0, maxNewTokens: count }),
      ];
      const theirs = await cpp.greedy(ids, count);
      assert.equal(ours.length, count);
      const at = ours.findIndex((t, i) => t !== theirs[i]);
      if (at >= 0)
        differences.push(
          `${JSON.stringify(prompt)}: token ${at} is ${ours[at]} here, ${theirs[at]} in llama.cpp`,
        );
    }
  } finally {
    await cpp.close();
  }
  return differences;
}

test('the tiny models learned their text (so greedy decoding is not decided by near-ties)', () => {
  assert.ok(untied.finalLoss < 0.3, `loss ${untied.finalLoss}`);
  assert.ok(tied.finalLoss < 0.3, `loss ${tied.finalLoss}`);
});

test("llama.cpp's tokenization equals ours, special tokens parsed and not", async () => {
  const cpp = await openLlamaCpp(exportGguf(untied, 'f32', 'tokenize'), 64);
  try {
    const texts = [
      ...TINY_PROMPTS,
      'Greta follows the road north;\n\n  at night  she meets Hugo.\t(1234567)',
      '<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n',
      ...generateTestStrings(200, 5),
    ];
    for (const text of texts) {
      for (const parseSpecial of [true, false]) {
        const ours = [...untied.tokenizer.encode(text, { parseSpecial })];
        assert.deepEqual(
          cpp.tokenize(text, parseSpecial),
          ours,
          `${JSON.stringify(text)} parseSpecial=${parseSpecial}`,
        );
      }
    }
  } finally {
    await cpp.close();
  }
});

for (const dtype of ['f32', 'f16'] as const) {
  test(`${dtype.toUpperCase()}: llama.cpp's greedy continuations equal the engine's for 32 tokens`, async () => {
    assert.deepEqual(await compareGreedy(untied, exportGguf(untied, dtype, 'untied'), 32), []);
    assert.deepEqual(await compareGreedy(tied, exportGguf(tied, dtype, 'tied'), 32), []);
  });
}

for (const dtype of ['q8_0', 'q4_0'] as const) {
  test(`${dtype.toUpperCase()}: llama.cpp's first 8 greedy tokens equal the engine's (full-precision weights)`, async () => {
    assert.deepEqual(await compareGreedy(untied, exportGguf(untied, dtype, 'untied'), 8), []);
    assert.deepEqual(await compareGreedy(tied, exportGguf(tied, dtype, 'tied'), 8), []);
  });
}
