import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FormatError } from './errors.ts';
import {
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsTensorInput,
} from './safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

function headerLengthBytes(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** A file with this header text (unpadded) followed by `data` bytes. */
function fileWith(header: string, data = new Uint8Array(0), n = Buffer.byteLength(header)): Uint8Array {
  return Buffer.concat([headerLengthBytes(n), Buffer.from(header), data]);
}

test('the test vectors of safetensors/src/tensor.rs, byte for byte', () => {
  const empty = serializeSafetensors([], null);
  assert.deepEqual([...empty.subarray(0, 8)], [8, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(text(empty.subarray(8)), '{}      ');
  assert.equal(empty.length, 16);

  const metadataOnly = serializeSafetensors([], { framework: 'pt' });
  assert.equal(new DataView(metadataOnly.buffer).getBigUint64(0, true), 40n);
  assert.equal(text(metadataOnly.subarray(8)), '{"__metadata__":{"framework":"pt"}}     ');

  const values = Float32Array.from([0, 1, 2, 3, 4, 5]);
  const one = serializeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: values }], null);
  const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  assert.equal(header.length, 64);
  assert.deepEqual(one, Uint8Array.from(fileWith(header, new Uint8Array(values.buffer))));
});

test('order: dtype alignment descending, then byte-wise names; format pt by default', () => {
  const t = (name: string, dtype: 'F32' | 'BF16' | 'I64' | 'U8', n = 1): SafetensorsTensorInput => ({
    name,
    dtype,
    shape: [n],
    data:
      dtype === 'F32'
        ? new Float32Array(n)
        : dtype === 'BF16'
          ? new Uint16Array(n)
          : dtype === 'I64'
            ? new BigInt64Array(n)
            : new Uint8Array(n),
  });
  const bytes = serializeSafetensors([
    t('layers.2', 'F32'),
    t('b', 'BF16'),
    t('layers.10', 'F32'),
    t('a', 'U8'),
    t('z', 'I64'),
    t('\u{1F600}', 'F32'),
    t('\uFFFD', 'F32'),
  ]);
  const json = text(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
  const order = [
    ...Buffer.from(json, 'latin1')
      .toString('utf8')
      .matchAll(/"([^"]+)":\{"dtype"/g),
  ].map((m) => m[1]);
  // U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80) in UTF-8, though not in UTF-16.
  assert.deepEqual(order, ['z', 'layers.10', 'layers.2', '\uFFFD', '\u{1F600}', 'b', 'a']);
  assert.ok(
    json.startsWith('{"__metadata__":{"format":"pt"},"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}'),
  );
});

test('round trip through a file: F32, F16 and BF16 from float32, raw integers, scalars and empty tensors', () => {
  const f32 = Float32Array.from({ length: 24 }, (_, i) => (i - 12) / 7);
  const tensors: SafetensorsTensorInput[] = [
    { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [4, 6], data: f32 },
    { name: 'half', dtype: 'F16', shape: [2, 12], data: f32 },
    { name: 'brain', dtype: 'BF16', shape: [24], data: f32 },
    { name: 'step', dtype: 'I64', shape: [], data: BigInt64Array.of(123456789012n) },
    { name: 'empty', dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
  ];
  const path = join(dir, 'round.safetensors');
  writeSafetensors(path, tensors, { format: 'pt', note: 'é' });
  assert.deepEqual(
    readFileSync(path),
    Buffer.from(serializeSafetensors(tensors, { format: 'pt', note: 'é' })),
  );
  assert.deepEqual(readdirSync(dir), ['round.safetensors'], 'no temporary file is left');
  const { metadata, tensors: read } = readSafetensors(path);
  assert.deepEqual(metadata, { format: 'pt', note: 'é' });
  assert.deepEqual(read.get('model.embed_tokens.weight')!.toFloat32(), f32);
  assert.deepEqual(read.get('half')!.shape, [2, 12]);
  const half = read.get('half')!.toFloat32();
  const brain = read.get('brain')!.toFloat32();
  for (let i = 0; i < f32.length; i++) {
    assert.ok(Math.abs(half[i] - f32[i]) <= Math.abs(f32[i]) * 2 ** -11, `f16 ${i}`);
    assert.ok(Math.abs(brain[i] - f32[i]) <= Math.abs(f32[i]) * 2 ** -8, `bf16 ${i}`);
  }
  assert.equal(new BigInt64Array(read.get('step')!.bytes.slice().buffer)[0], 123456789012n);
  assert.equal(read.get('empty')!.toFloat32().length, 0);
  assert.throws(
    () => read.get('step')!.toFloat32(),
    (e: FormatError) => e.code === 'unsupported' && e.message.includes('"step"'),
  );
  assert.deepEqual([...readSafetensors(path, ['half']).tensors.keys()], ['half']);
  assert.equal(readSafetensorsHeader(path).tensors.length, 5);
});

test('an independent reader (Python struct/json and numpy) reads what we write', (t) => {
  const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return t.skip('python3 with numpy is not available');
  const values = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i) * 3);
  const path = join(dir, 'python.safetensors');
  writeSafetensors(path, [
    { name: 'w', dtype: 'F32', shape: [5, 6], data: values },
    { name: 'h', dtype: 'F16', shape: [30], data: values },
    { name: 'ids', dtype: 'I32', shape: [3], data: Int32Array.of(-1, 0, 7) },
  ]);
  // Reads with the stdlib only, checks the layout rules, and re-serializes the header the way serde_json does.
  const script = String.raw`
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
n, = struct.unpack('<Q', raw[:8])
assert n % 8 == 0
text = raw[8:8 + n].decode('utf-8')
header = json.loads(text)
assert json.dumps(header, separators=(',', ':'), ensure_ascii=False) == text.rstrip(' ')
base, out, end = 8 + n, {}, 0
types = {'F32': '<f4', 'F16': '<f2', 'I32': '<i4'}
for name, info in header.items():
    if name == '__metadata__':
        out[name] = info
        continue
    b, e = info['data_offsets']
    assert b == end
    end = e
    out[name] = np.frombuffer(raw[base + b:base + e], dtype=types[info['dtype']]).reshape(info['shape']).astype(float).tolist()
assert base + end == len(raw)
print(json.dumps(out))
`;
  const run = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const parsed = JSON.parse(run.stdout);
  assert.deepEqual(parsed.__metadata__, { format: 'pt' });
  assert.deepEqual(parsed.w.flat(), [...values]);
  assert.deepEqual(parsed.ids, [-1, 0, 7]);
  const half = readSafetensors(path).tensors.get('h')!.toFloat32();
  assert.deepEqual(parsed.h, [...half], 'numpy float16 decodes our F16 bits to the same values');
});

/** Expects parseSafetensors to throw a FormatError whose message names the file and contains `what`. */
function rejects(bytes: Uint8Array, what: string | RegExp, code = 'invalid'): void {
  assert.throws(
    () => parseSafetensors(bytes, 'bad.safetensors'),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
      assert.equal(e.code, code);
      assert.match(e.message, /^bad\.safetensors: /);
      if (typeof what === 'string') assert.ok(e.message.includes(what), e.message);
      else assert.match(e.message, what);
      return true;
    },
  );
}

test('malformed files are rejected with the file and field named, before any large allocation', () => {
  const good = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 2], data: new Float32Array(4) }]);
  rejects(good.subarray(0, 5), 'header length');
  rejects(good.subarray(0, good.length - 1), 'truncated');
  rejects(Buffer.concat([good, Buffer.of(0)]), 'tensors end at byte 112 but the file has 113 bytes');
  rejects(fileWith('{}', new Uint8Array(0), 2 ** 40), 'exceeds the limit');
  const absurd = Buffer.concat([
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from('{}'),
  ]);
  rejects(absurd, 'exceeds the limit');
  rejects(fileWith('{}', new Uint8Array(0), 100), 'run past the end');
  rejects(fileWith('[1,2]'), 'does not start with "{"');
  rejects(fileWith('{"a":'), 'not valid UTF-8 JSON');
  rejects(Buffer.concat([headerLengthBytes(3), Buffer.from([0x7b, 0xff, 0x7d])]), 'not valid UTF-8');
  rejects(fileWith('{"__metadata__":{"format":1}}'), '__metadata__.format: must be a string');
  rejects(fileWith('{"__metadata__":["pt"]}'), '__metadata__: must be an object');
  rejects(fileWith('{"w":[1]}'), 'tensor "w": must be an object');
  rejects(
    fileWith('{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
    'tensor "w".dtype: unknown dtype "F33"',
  );
  rejects(
    fileWith('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
    'tensor "w".shape',
  );
  rejects(
    fileWith('{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', new Uint8Array(4)),
    'tensor "w".shape',
  );
  rejects(
    fileWith('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', new Uint8Array(4)),
    'end 0 is before begin 4',
  );
  rejects(
    fileWith('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', new Uint8Array(4)),
    'tensor "w".data_offsets',
  );
  rejects(fileWith('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)), 'needs 8');
  rejects(
    fileWith('{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', new Uint8Array(1)),
    'not a whole number of bytes',
  );
  // 4 TB claimed by shape and offsets, 8 bytes present: rejected by the length check, nothing allocated.
  rejects(
    fileWith(
      '{"w":{"dtype":"F32","shape":[1000000000000],"data_offsets":[0,4000000000000]}}',
      new Uint8Array(8),
    ),
    'truncated',
  );
  const two = (a: string, b: string, bytes: number) =>
    fileWith(
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":${a}},"b":{"dtype":"F32","shape":[1],"data_offsets":${b}}}`,
      new Uint8Array(bytes),
    );
  rejects(two('[0,4]', '[2,6]', 8), 'tensor "b".data_offsets: [2, 6] overlaps the previous tensor');
  rejects(two('[0,4]', '[8,12]', 12), 'tensor "b".data_offsets: [8, 12] leaves a gap');
  rejects(two('[4,8]', '[8,12]', 12), 'tensor "a".data_offsets: [4, 8] leaves a gap');
  assert.equal(parseSafetensors(two('[4,8]', '[0,4]', 8)).tensors.size, 2, 'any header order is fine');
});

test('reading a missing or malformed file names it', () => {
  const missing = join(dir, 'missing.safetensors');
  assert.throws(
    () => readSafetensors(missing),
    (e: FormatError) => e.code === 'not-found' && e.message.startsWith(missing),
  );
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, fileWith('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(3)));
  assert.throws(
    () => readSafetensors(bad),
    (e: FormatError) => e.code === 'invalid' && e.message.startsWith(`${bad}: data:`),
  );
  rmSync(bad);
});
