import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readGgufFileInfo } from 'node-llama-cpp';
import { FormatError } from './errors.ts';
import {
  dequantizeTensor,
  GgmlType,
  readGgufHeader,
  readGgufTensorBytes,
  writeGguf,
  type GgufValue,
} from './gguf.ts';
import { quantizeQ8_0 } from './quant.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-gguf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const metadata = new Map<string, GgufValue>([
  ['general.architecture', { type: 'string', value: 'llama' }],
  ['test.u8', { type: 'u8', value: 200 }],
  ['test.i8', { type: 'i8', value: -100 }],
  ['test.u16', { type: 'u16', value: 60000 }],
  ['test.i16', { type: 'i16', value: -30000 }],
  ['test.u32', { type: 'u32', value: 4000000000 }],
  ['test.i32', { type: 'i32', value: -2000000000 }],
  ['test.f32', { type: 'f32', value: 0.5 }],
  ['test.bool', { type: 'bool', value: true }],
  ['test.string', { type: 'string', value: 'héllo <|im_end|>' }],
  ['test.u64', { type: 'u64', value: 2n ** 60n }],
  ['test.i64', { type: 'i64', value: -(2n ** 60n) }],
  ['test.f64', { type: 'f64', value: 1e-300 }],
  ['test.strings', { type: 'array', elementType: 'string', value: ['a', '', 'Ġthe'] }],
  ['test.ints', { type: 'array', elementType: 'i32', value: [1, -2, 3] }],
]);

test('round trip: every value type, arrays, packed and padded tensor data (the last tensor too)', () => {
  const path = join(dir, 'all.gguf');
  const f32 = Float32Array.from({ length: 6 }, (_, i) => i / 4);
  const q8 = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
  writeGguf(path, metadata, [
    { name: 'a', type: GgmlType.F32, ne: [3, 2], data: new Uint8Array(f32.buffer) },
    { name: 'b', type: GgmlType.Q8_0, ne: [32, 2], data: () => quantizeQ8_0(q8) },
  ]);
  const header = readGgufHeader(path);
  assert.equal(header.version, 3);
  assert.deepEqual(header.metadata, metadata);
  assert.equal(header.alignment, 32);
  const [a, b] = header.tensors;
  assert.deepEqual([a.name, a.ne, a.bytes, b.name, b.ne, b.bytes], ['a', [3, 2], 24, 'b', [32, 2], 68]);
  assert.equal(a.start % 32, 0);
  assert.equal(b.start, a.start + 32, 'tensor a is padded to the alignment');
  assert.equal(statSync(path).size, b.start + 96, 'the last tensor is padded too');
  const bytes = readGgufTensorBytes(header);
  assert.deepEqual(dequantizeTensor(a, bytes.get('a')!, path), f32);
  assert.deepEqual(bytes.get('b'), quantizeQ8_0(q8));
});

test('headers larger than the writer and reader buffers (a 150,000-token vocabulary) round trip', () => {
  const path = join(dir, 'big.gguf');
  const tokens = Array.from({ length: 150_000 }, (_, i) => `tok${i}`);
  const types = tokens.map((_, i) => i % 7);
  const big = new Map<string, GgufValue>([
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', elementType: 'i32', value: types }],
    ['general.name', { type: 'string', value: 'x'.repeat(3_000_000) }],
  ]);
  writeGguf(path, big, [{ name: 't', type: GgmlType.F32, ne: [2], data: new Uint8Array(8) }]);
  const header = readGgufHeader(path);
  assert.deepEqual(header.metadata, big);
  assert.equal(header.tensors[0].start, Math.ceil(header.tensors[0].start / 32) * 32);
});

test("node-llama-cpp's own GGUF reader reads the same metadata and tensor infos", async () => {
  const path = join(dir, 'independent.gguf');
  writeGguf(path, metadata, [
    { name: 'token_embd.weight', type: GgmlType.F16, ne: [4, 3], data: new Uint8Array(24) },
    { name: 'output_norm.weight', type: GgmlType.F32, ne: [4], data: new Uint8Array(16) },
  ]);
  const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  assert.equal(info.version, 3);
  const test = (info.metadata as unknown as { test: Record<string, unknown> }).test;
  assert.equal(test.u32, 4000000000);
  assert.equal(test.i8, -100);
  assert.equal(test.string, 'héllo <|im_end|>');
  assert.equal(test.u64, 2n ** 60n);
  assert.deepEqual(test.strings, ['a', '', 'Ġthe']);
  assert.deepEqual(
    info.fullTensorInfo!.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)]),
    [
      ['token_embd.weight', [4, 3], 1, 0],
      ['output_norm.weight', [4], 0, 32],
    ],
  );
});

/** A hand-built GGUF: `kv` and `tensors` are raw byte sections; counts may lie. */
class Bytes {
  private parts: Buffer[] = [];
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  str(s: string, length = Buffer.byteLength(s)): this {
    return this.u64(length).raw(Buffer.from(s));
  }
  raw(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const head = (tensors: number, kvs: number) =>
  new Bytes().raw(Buffer.from('GGUF')).u32(3).u64(tensors).u64(kvs);
/** A single-tensor file: a 1-D F32 tensor named `name` with ne and offset as given, data appended. */
function oneTensor(name: string, ne: number[], type = 0, offset = 0, dataBytes = 32): Buffer {
  const b = head(1, 0).str(name).u32(ne.length);
  for (const d of ne) b.u64(d);
  b.u32(type).u64(offset);
  const header = b.done();
  return Buffer.concat([
    header,
    Buffer.alloc(Math.ceil(header.length / 32) * 32 - header.length),
    Buffer.alloc(dataBytes),
  ]);
}

function rejects(bytes: Buffer, what: string, code = 'invalid'): void {
  const path = join(dir, 'bad.gguf');
  writeFileSync(path, bytes);
  assert.throws(
    () => readGgufHeader(path),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
      assert.equal(e.code, code, e.message);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.ok(e.message.includes(what), e.message);
      return true;
    },
  );
}

test('malformed headers are rejected with the key or tensor named, without large allocations or hangs', () => {
  rejects(Buffer.from('GGU'), 'magic');
  rejects(Buffer.from('GGML\x03\x00\x00\x00'), 'not a GGUF file');
  rejects(new Bytes().raw(Buffer.from('GGUF')).u32(1).u64(0).u64(0).done(), 'GGUF version 1', 'unsupported');
  rejects(head(0, 1).done().subarray(0, 20), 'n_kv');
  rejects(head(0, 2 ** 40).done(), 'n_kv: 1099511627776 pairs cannot fit');
  rejects(head(2 ** 50, 0).done(), 'n_tensors');
  // The first key's length points far past the end of the file (node-llama-cpp spins on this one).
  rejects(
    head(0, 1)
      .u64(2n ** 40n)
      .raw(Buffer.alloc(16))
      .done(),
    'key 0: string length 1099511627776 exceeds',
  );
  rejects(
    head(0, 1)
      .u64(2n ** 62n)
      .raw(Buffer.alloc(16))
      .done(),
    'key 0: 4611686018427387904 is out of range',
  );
  rejects(head(0, 1).str('').u32(4).u32(0).done(), 'key 0: is empty');
  rejects(head(0, 1).str('a').u32(13).raw(Buffer.alloc(8)).done(), 'key "a": invalid GGUF value type 13');
  rejects(head(0, 1).str('a').u32(9).u32(9).u64(1).u32(4).u64(1).u32(7).done(), 'key "a": nested arrays');
  rejects(
    head(0, 1)
      .str('a')
      .u32(9)
      .u32(8)
      .u64(2n ** 40n)
      .raw(Buffer.alloc(64))
      .done(),
    'key "a": array of 1099511627776 string',
  );
  rejects(
    head(0, 1).str('a').u32(9).u32(6).u64(100).raw(Buffer.alloc(64)).done(),
    'key "a": array of 100 f32',
  );
  rejects(head(0, 1).str('a').u32(7).raw(Buffer.of(2)).done(), 'key "a": bool value 2');
  rejects(head(0, 2).str('a').u32(4).u32(1).str('a').u32(4).u32(2).done(), 'key "a": appears twice');
  rejects(
    head(0, 1).str('general.alignment').u32(10).u64(32).done(),
    'general.alignment": must be u32, is u64',
  );
  rejects(head(0, 1).str('general.alignment').u32(4).u32(48).done(), '48 is not a power of two');
  rejects(oneTensor('x'.repeat(64), [8]), 'name is 64 bytes, more than 63');
  rejects(oneTensor('t', [1, 1, 1, 1, 8]), 'tensor "t": has 5 dimensions');
  rejects(oneTensor('t', [8], 77), 'tensor "t": invalid ggml type 77');
  rejects(
    oneTensor('t', [33], GgmlType.Q8_0),
    'Q8_0 rows of 33 elements are not a multiple of the block size 32',
  );
  rejects(oneTensor('t', [8], 0, 32), 'tensor "t": has offset 32, expected 0');
  rejects(oneTensor('t', [8], 0, 0, 16), 'tensor "t": data [');
  rejects(oneTensor('t', [2 ** 30, 2 ** 30, 2 ** 10], 0), 'has too many elements');
  const twoSame = head(2, 0)
    .str('t')
    .u32(1)
    .u64(8)
    .u32(0)
    .u64(0)
    .str('t')
    .u32(1)
    .u64(8)
    .u32(0)
    .u64(32)
    .done();
  rejects(twoSame, 'tensor "t": appears twice');
  const missing = join(dir, 'missing.gguf');
  assert.throws(
    () => readGgufHeader(missing),
    (e: FormatError) => e.code === 'not-found',
  );
});

test('dequantizing an unsupported type says which tensor and what to do', () => {
  const path = join(dir, 'q4k.gguf');
  writeFileSync(path, oneTensor('blk.0.attn_q.weight', [256], 12, 0, 160));
  const header = readGgufHeader(path);
  const bytes = readGgufTensorBytes(header).get('blk.0.attn_q.weight')!;
  assert.equal(bytes.length, 144);
  assert.throws(
    () => dequantizeTensor(header.tensors[0], bytes, path),
    (e: FormatError) =>
      e.code === 'unsupported' && /tensor "blk.0.attn_q.weight": type Q4_K cannot be read/.test(e.message),
  );
});
