import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FormatError } from './errors.ts';
import { readSafetensorsShards, writeSafetensorsShards } from './safetensors-shards.ts';
import type { SafetensorsTensorInput } from './safetensors.ts';

const root = mkdtempSync(join(tmpdir(), 'ownlm-shards-'));
after(() => rmSync(root, { recursive: true, force: true }));

const tensor = (name: string, n: number, fill: number): SafetensorsTensorInput => ({
  name,
  dtype: 'F32',
  shape: [n],
  data: new Float32Array(n).fill(fill),
});

test('small checkpoints are one model.safetensors; large ones shards plus the index transformers writes', () => {
  const dir = mkdtempSync(join(root, 'ckpt-'));
  const tensors = [
    tensor('model.a', 10, 1),
    tensor('model.b', 10, 2),
    tensor('model.c', 40, 3),
    tensor('model.d', 5, 4),
  ];
  assert.deepEqual(writeSafetensorsShards(dir, tensors), ['model.safetensors']);
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);

  // 100-byte shards, cut as huggingface_hub does: c (160 bytes) goes out at once in a shard of its own, while
  // a (40) + b (40) + d (20) fill the open one, closed at the end.
  const files = writeSafetensorsShards(dir, tensors, { maxShardBytes: 100 });
  assert.deepEqual(files, [
    'model-00001-of-00002.safetensors',
    'model-00002-of-00002.safetensors',
    'model.safetensors.index.json',
  ]);
  assert.deepEqual(readdirSync(dir).sort(), [...files].sort(), 'the single file of the earlier save is gone');
  assert.equal(
    readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'),
    `{
  "metadata": {
    "total_size": 260
  },
  "weight_map": {
    "model.a": "model-00002-of-00002.safetensors",
    "model.b": "model-00002-of-00002.safetensors",
    "model.c": "model-00001-of-00002.safetensors",
    "model.d": "model-00002-of-00002.safetensors"
  }
}
`,
  );
  const read = readSafetensorsShards(dir);
  assert.deepEqual([...read.keys()].sort(), ['model.a', 'model.b', 'model.c', 'model.d']);
  assert.deepEqual(read.get('model.c')!.toFloat32(), new Float32Array(40).fill(3));

  assert.deepEqual(writeSafetensorsShards(dir, tensors), ['model.safetensors']);
  assert.deepEqual(readdirSync(dir), ['model.safetensors'], 'shards and index of the earlier save are gone');
});

test('a bad index or a missing shard is named', () => {
  const dir = mkdtempSync(join(root, 'bad-'));
  writeSafetensorsShards(dir, [tensor('a', 30, 1), tensor('b', 30, 2)], { maxShardBytes: 150 });
  const index = join(dir, 'model.safetensors.index.json');
  const original = readFileSync(index, 'utf8');
  const expectError = (code: string, text: string) =>
    assert.throws(
      () => readSafetensorsShards(dir),
      (e: FormatError) => e.code === code && e.message.includes(text),
    );

  writeFileSync(
    index,
    original.replace('"b": "model-00002-of-00002.safetensors"', '"b": "../x.safetensors"'),
  );
  expectError('invalid', 'weight_map["b"]: must name a .safetensors file in the same folder');
  writeFileSync(index, original.replace('"b": "model-00002-of-00002', '"b": "model-00001-of-00002'));
  expectError('invalid', 'model-00001-of-00002.safetensors: tensor "b": not in the file');
  writeFileSync(index, '{"weight_map": [');
  expectError('invalid', 'not valid JSON');
  writeFileSync(index, original);
  rmSync(join(dir, 'model-00002-of-00002.safetensors'));
  expectError('not-found', 'lists model-00002-of-00002.safetensors');
  assert.throws(
    () => readSafetensorsShards(join(root)),
    (e: FormatError) => e.code === 'not-found',
  );
});
