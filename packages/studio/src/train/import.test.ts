import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateTokens, Random } from '@ownlm/engine';
import { FormatError } from '../formats/errors.ts';
import { trainTinyModel, TINY_PROMPTS, type TinyModel } from '../formats/fixtures/tiny-model.ts';
import { writeLlamaGguf, type HfTensor } from '../formats/gguf-llama.ts';
import { writeHfFolder } from '../formats/hf-folder.ts';
import { writeSafetensors } from '../formats/safetensors.ts';
import { generateTestStrings } from '../tokenizer/test-strings.ts';
import { importModel, loadModelFolder } from './import.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let tiny: TinyModel;
let tensors: Map<string, HfTensor>;

before(async () => {
  tiny = await trainTinyModel(join(dir, 'train'), { steps: 60 });
  tensors = new Map([...tiny.model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]));
});

function assertSameModel(loaded: ReturnType<typeof loadModelFolder>, what: string): void {
  assert.deepEqual(loaded.config, tiny.model.config, what);
  for (const [name, p] of tiny.model.parameters)
    assert.deepEqual(loaded.model.parameters.get(name)!.data, p.data, `${what}: ${name}`);
  for (const text of [...TINY_PROMPTS, ...generateTestStrings(100, 9)])
    assert.deepEqual(
      loaded.tokenizer.encode(text),
      tiny.tokenizer.encode(text),
      `${what}: ${JSON.stringify(text)}`,
    );
  const prompt = tiny.tokenizer.encode(TINY_PROMPTS[0]);
  const greedy = (m: typeof tiny.model) => [
    ...generateTokens(m, prompt, { temperature: 0, maxNewTokens: 8 }),
  ];
  assert.deepEqual(greedy(loaded.model), greedy(tiny.model), what);
}

test('an F32 GGUF imports into a model folder with the same weights, tokenizer and generations', () => {
  const gguf = join(dir, 'tiny.gguf');
  writeLlamaGguf(gguf, { config: tiny.model.config, tensors, tokenizerDir: tiny.tokenizerDir, dtype: 'f32' });
  const out = join(dir, 'from-gguf');
  assertSameModel(importModel({ from: gguf, out }), 'import');
  assertSameModel(loadModelFolder(out), 'load');
  const { tokenizer } = loadModelFolder(out);
  assert.equal(tokenizer.chatTemplate, tiny.tokenizer.chatTemplate);
  assert.equal(tokenizer.eosId, tiny.tokenizer.eosId);
  assert.equal(tokenizer.bosId, null, 'no BOS, as in the trained tokenizer');
  assert.equal(tokenizer.llamaCppPre, 'qwen2');
});

test('a Hugging Face folder imports as is; a training checkpoint (trainer-state.json) loads too', () => {
  const hf = join(dir, 'hf');
  writeHfFolder(hf, { config: tiny.model.config, tensors, tokenizerDir: tiny.tokenizerDir, dtype: 'f32' });
  assertSameModel(importModel({ from: hf, out: join(dir, 'from-hf') }), 'hf import');

  const checkpoint = join(dir, 'checkpoint');
  mkdirSync(checkpoint);
  writeSafetensors(
    join(checkpoint, 'model.safetensors'),
    [...tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
  );
  writeFileSync(
    join(checkpoint, 'trainer-state.json'),
    JSON.stringify({ step: 60, modelConfig: tiny.model.config }),
  );
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(tiny.tokenizerDir, f), join(checkpoint, f));
  assertSameModel(loadModelFolder(checkpoint), 'checkpoint');
});

test('loading names the folder and what is missing or wrong', () => {
  assert.throws(
    () => loadModelFolder(join(dir, 'nothing')),
    (e: FormatError) => e.code === 'not-found',
  );
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(
    () => loadModelFolder(empty),
    (e: FormatError) => e.message === `${empty}: no config.json (nor trainer-state.json): not a model folder`,
  );
  const small = join(dir, 'small-vocab');
  const random = new Random(1);
  const config = { ...tiny.model.config, vocab_size: 100 };
  const shrunk = new Map(
    [...tensors].map(([n, t]) => {
      const shape = t.shape[0] === tiny.model.config.vocab_size ? [100, t.shape[1]] : t.shape;
      return [n, { shape, data: random.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), 1) }];
    }),
  );
  writeHfFolder(small, { config, tensors: shrunk, tokenizerDir: tiny.tokenizerDir });
  assert.throws(() => loadModelFolder(small), /tokens do not fit the model's vocab_size 100/);
});
