import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateTokens } from '@ownlm/engine';
import { loadModelFolder } from '@ownlm/studio';
import { writeHfFolder } from '../../../studio/src/formats/hf-folder.ts';
import { trainTinyModel } from '../../../studio/src/formats/fixtures/tiny-model.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ownlm.mjs');
const ownlm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('ownlm export and ownlm import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-cli-export-'));
  const model = join(dir, 'model');
  after(() => rmSync(dir, { recursive: true, force: true }));
  before(async () => {
    const tiny = await trainTinyModel(join(dir, 'train'), { steps: 200 });
    const tensors = new Map(
      [...tiny.model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]),
    );
    writeHfFolder(model, { config: tiny.model.config, tensors, tokenizerDir: tiny.tokenizerDir });
  });

  it('exports a verified GGUF and imports it back into a working model folder', () => {
    const gguf = join(dir, 'tiny.gguf');
    const exported = ownlm([
      'export',
      '--model',
      model,
      '--out',
      gguf,
      '--dtype',
      'q8_0',
      '--prompt',
      'Anna sees',
    ]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /^wrote .*tiny\.gguf \(0\.\d MB\) in \d+\.\d s\n/);
    assert.match(
      exported.stdout,
      /verified in llama\.cpp in \d+\.\d s: 106 texts tokenize identically, \d+ greedy tokens over 6 prompts identical/,
    );
    const imported = ownlm(['import', '--from', gguf, '--out', join(dir, 'imported')]);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, /imported .* 2 layers, hidden 64, vocabulary 384/);
    const { model: back, tokenizer } = loadModelFolder(join(dir, 'imported'));
    const ids = tokenizer.encode('Anna sees');
    const continuation = tokenizer.decode([
      ...generateTokens(back, ids, { temperature: 0, maxNewTokens: 4 }),
    ]);
    assert.ok(continuation.startsWith(' the moon'), continuation);
  });

  it('refuses an export llama.cpp would not reproduce, exits 1 and leaves no file', () => {
    const file = join(model, 'tokenizer.json');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('"normalizer": null', '"normalizer": {"type": "NFD"}'));
    try {
      const out = join(dir, 'refused.gguf');
      const result = ownlm(['export', '--model', model, '--out', out]);
      assert.equal(result.status, 1);
      assert.match(
        result.stderr,
        /^ownlm export: .*refused\.gguf: tokenization of ".*": token \d+ is \d+ in ownlm but \d+ in llama\.cpp\n$/,
      );
      assert.equal(existsSync(out), false);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('usage errors exit 2', () => {
    assert.equal(ownlm(['export', '--model', model]).status, 2);
    assert.equal(ownlm(['import', '--out', dir]).status, 2);
  });
});
