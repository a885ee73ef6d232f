import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LlamaModel } from '@ownlm/engine';
import { FormatError } from '../formats/errors.ts';
import { TINY_PROMPTS, trainTinyModel, type TinyModel } from '../formats/fixtures/tiny-model.ts';
import { readLlamaGguf, writeLlamaGguf, type HfTensor } from '../formats/gguf-llama.ts';
import { writeHfFolder } from '../formats/hf-folder.ts';
import { exportModel, readBackGguf, verifyGguf, type ExportOptions } from './export.ts';
import { loadModelFolder } from './import.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let tiny: TinyModel;
let modelDir: string;
const tensorsOf = (model: LlamaModel) =>
  new Map<string, HfTensor>([...model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]));

before(async () => {
  tiny = await trainTinyModel(join(dir, 'train'), { steps: 300 });
  modelDir = join(dir, 'model');
  writeHfFolder(modelDir, {
    config: tiny.model.config,
    tensors: tensorsOf(tiny.model),
    tokenizerDir: tiny.tokenizerDir,
  });
});

for (const dtype of ['f32', 'f16', 'q8_0'] as const) {
  test(`export to GGUF ${dtype}: verified against llama.cpp, then published`, async () => {
    const out = join(dir, `tiny-${dtype}.gguf`);
    const report = await exportModel({ model: modelDir, out, format: 'gguf', dtype, prompts: TINY_PROMPTS });
    assert.ok(existsSync(out));
    assert.equal(report.tokenizationTexts, 5 + 4 + 100);
    const tokens = dtype === 'q8_0' ? 8 : 32;
    // The model's own text is decided with wide margins: every token must match there.
    for (const check of report.prompts.filter((p) => TINY_PROMPTS.includes(p.prompt)))
      assert.deepEqual(check, { prompt: check.prompt, compared: tokens }, check.prompt);
    assert.equal(report.prompts.length, 9);
    assert.deepEqual(readLlamaGguf(out).config, tiny.model.config);
    await assert.rejects(
      exportModel({ model: modelDir, out, format: 'gguf', dtype }),
      (e: FormatError) => e.code === 'output-exists' && e.message.includes('pass --force'),
    );
  });
}

test('export to a Hugging Face folder (f16) is read back and compared bit for bit', async () => {
  const out = join(dir, 'hf-f16');
  const report = await exportModel({ model: modelDir, out, format: 'hf', dtype: 'f16' });
  assert.ok(report.bytes > 0);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'float16');
  assert.equal(loadModelFolder(out).config.hidden_size, 64);
});

test('a GGUF that llama.cpp runs differently is refused, naming the prompt and the token', async () => {
  const path = join(dir, 'other.gguf');
  writeLlamaGguf(path, {
    config: tiny.model.config,
    tensors: tensorsOf(tiny.model),
    tokenizerDir: tiny.tokenizerDir,
    dtype: 'f32',
  });
  // The engine side runs with a different norm epsilon than the file says: a wrong hyperparameter.
  const drifted = new LlamaModel({ ...tiny.model.config, rms_norm_eps: 0.5 });
  for (const [name, p] of drifted.parameters) p.data.set(tiny.model.parameters.get(name)!.data);
  const options: ExportOptions = {
    model: modelDir,
    out: path,
    format: 'gguf',
    dtype: 'f32',
    prompts: TINY_PROMPTS,
  };
  await assert.rejects(verifyGguf(path, drifted, tiny.tokenizer, options), (e: FormatError) => {
    assert.equal(e.code, 'verification-failed');
    assert.match(
      e.message,
      /: prompt \d+ ".*": greedy token \d+ is \d+ ".*" in the engine but \d+ ".*" in llama\.cpp \(logit gap/,
    );
    return true;
  });
});

test('reading the GGUF back catches a config or tensor that differs from the model', () => {
  const path = join(dir, 'readback.gguf');
  writeLlamaGguf(path, {
    config: tiny.model.config,
    tensors: tensorsOf(tiny.model),
    tokenizerDir: tiny.tokenizerDir,
    dtype: 'q8_0',
  });
  const options: ExportOptions = { model: modelDir, out: path, format: 'gguf', dtype: 'q8_0' };
  assert.equal(readBackGguf(path, tiny.model, options).size, tiny.model.parameters.size);
  const other = new LlamaModel({ ...tiny.model.config, rope_theta: 500000 });
  for (const [name, p] of other.parameters) p.data.set(tiny.model.parameters.get(name)!.data);
  assert.throws(
    () => readBackGguf(path, other, options),
    /: config rope_theta: reads back as 10000, the model has 500000$/,
  );
  other.parameters.get('model.layers.1.self_attn.k_proj.weight')!.data[5] += 1;
  const same = new LlamaModel(tiny.model.config);
  for (const [name, p] of same.parameters) p.data.set(other.parameters.get(name)!.data);
  assert.throws(
    () => readBackGguf(path, same, options),
    /tensor "model.layers.1.self_attn.k_proj.weight": value \d+ reads back as/,
  );
});

test('a tokenizer llama.cpp splits differently (an NFC normalizer) refuses the export and leaves no file', async () => {
  const nfcDir = join(dir, 'nfc-model');
  writeHfFolder(nfcDir, {
    config: tiny.model.config,
    tensors: tensorsOf(tiny.model),
    tokenizerDir: tiny.tokenizerDir,
  });
  const file = join(nfcDir, 'tokenizer.json');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('"normalizer": null', '"normalizer": {"type": "NFC"}'),
  );
  const out = join(dir, 'nfc.gguf');
  await assert.rejects(
    exportModel({ model: nfcDir, out, format: 'gguf', dtype: 'f32' }),
    (e: FormatError) => {
      assert.equal(e.code, 'verification-failed');
      assert.match(
        e.message,
        /^.*nfc\.gguf: tokenization of ".*": token \d+ is \d+ in ownlm but \d+ in llama\.cpp$/,
      );
      return true;
    },
  );
  assert.equal(existsSync(out), false);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary file is left',
  );
});

test('bad options are refused before any work', async () => {
  await assert.rejects(
    exportModel({ model: modelDir, out: join(dir, 'x'), format: 'gguf', dtype: 'q5_k' as 'f32' }),
    /dtype: q5_k for gguf/,
  );
  await assert.rejects(
    exportModel({ model: modelDir, out: join(dir, 'x'), format: 'hf', dtype: 'q8_0' }),
    /dtype: q8_0 for hf \(f32, f16, bf16\)/,
  );
  await assert.rejects(
    exportModel({ model: join(dir, 'none'), out: join(dir, 'x'), format: 'gguf', dtype: 'f32' }),
    (e: FormatError) => e.code === 'not-found',
  );
});
