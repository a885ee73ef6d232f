import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  bf16ToF32,
  decodeBf16,
  decodeF16,
  dequantizeQ4_0,
  dequantizeQ8_0,
  encodeBf16,
  encodeF16,
  f16ToF32,
  f32ToF16,
  quantizeQ4_0,
  quantizeQ8_0,
} from './quant.ts';

// Fixtures made by llama.cpp's gguf-py from the same input, and checked identical to ggml's C reference
// quantizers (fixtures/make-quant-fixtures.py).
const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));
const input = new Float32Array(fixture('quant-input.f32').buffer);
const u16 = (bytes: Uint8Array) => new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): string {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `index ${i}: ${a[i]} vs ${b[i]}`;
  return 'none';
}

test('f16 and bf16 bits equal gguf-py for random bit patterns, ties and overflow', () => {
  assert.equal(firstDifference(encodeF16(input), u16(fixture('quant-f16.bin'))), 'none');
  assert.equal(firstDifference(encodeBf16(input), u16(fixture('quant-bf16.bin'))), 'none');
});

test('f16 rounding: nearest even, subnormals, overflow, NaN; every half value converts back unchanged', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [3 * 2 ** -25, 0x0002],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [NaN, 0x7e00],
  ];
  for (const [x, bits] of cases) assert.equal(f32ToF16(x), bits, `f16(${x})`);
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue;
    assert.equal(f32ToF16(f16ToF32(h)), h, `half 0x${h.toString(16)}`);
  }
  assert.deepEqual(decodeF16(Uint16Array.of(0x3c00, 0xc000, 0x0001)), Float32Array.of(1, -2, 2 ** -24));
  assert.deepEqual(decodeBf16(Uint16Array.of(0x3f80, 0xc000)), Float32Array.of(1, -2));
  assert.equal(bf16ToF32(0x7fc0), NaN);
});

test('Q8_0 blocks equal gguf-py / ggml byte for byte (halves round away from zero) and dequantize as ggml', () => {
  const q = quantizeQ8_0(input);
  assert.equal(firstDifference(q, fixture('quant-q8_0.bin')), 'none');
  const back = dequantizeQ8_0(q, input.length);
  // The block of halves (index 65: d = 1) comes back exact, rounded away from zero.
  const halves = back.subarray(65 * 32, 66 * 32);
  assert.deepEqual([...halves.subarray(0, 6)], [127, -127, -15, -14, -13, -12]);
  // Error bound: half a step of d, plus 127 times the error of storing d as f16 (subnormal for tiny blocks).
  for (let b = 0; b < 64; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(input[b * 32 + j]));
    const d = Math.fround(amax / 127);
    const bound = d / 2 + 127 * Math.abs(f16ToF32(f32ToF16(d)) - d);
    for (let j = 0; j < 32; j++) {
      const i = b * 32 + j;
      assert.ok(Math.abs(back[i] - input[i]) <= bound, `Q8_0 error at ${i}`);
    }
  }
});

test('Q4_0 blocks equal gguf-py / ggml byte for byte (low nibble j, high nibble j + 16)', () => {
  const q = quantizeQ4_0(input);
  assert.equal(firstDifference(q, fixture('quant-q4_0.bin')), 'none');
  const block = Float32Array.from({ length: 32 }, (_, j) => (j < 16 ? -8 : 7) * 0.25);
  const bytes = quantizeQ4_0(block);
  // d = max/−8 = 0.25 (max is −2, the first value of largest magnitude); −2 → 0 and 1.75 → 15.
  assert.equal(f16ToF32(bytes[0] | (bytes[1] << 8)), 0.25);
  assert.deepEqual([...bytes.subarray(2)], new Array(16).fill(0xf0));
  assert.deepEqual(dequantizeQ4_0(bytes, 32), block);
});

test('block quantizers refuse a length that is not whole blocks', () => {
  assert.throws(
    () => quantizeQ8_0(new Float32Array(33)),
    /33 values are not a whole number of 32-value blocks/,
  );
  assert.throws(() => dequantizeQ4_0(new Uint8Array(18), 16), RangeError);
});
