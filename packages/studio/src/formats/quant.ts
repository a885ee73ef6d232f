// Number formats of stored weights, bit-exact with ggml (docs/FORMATS.md#quant-blocks): IEEE half (f16), bfloat16
// conversions, and the Q8_0 and Q4_0 blocks of 32 values. Quantizers follow ggml's reference C code
// (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`) step by step in float32 arithmetic (Math.fround), so the
// bytes equal those of llama.cpp's tools; dequantizers equal ggml's `dequantize_row_*`.

/** Values per Q8_0 / Q4_0 block. */
export const QK = 32;
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

function f32FromBits(bits: number): number {
  scratchU32[0] = bits;
  return scratchF32[0];
}

const fround = Math.fround;

/**
 * Half-precision bits of x, rounded to nearest even: ggml's portable `ggml_compute_fp32_to_fp16` (the FP16
 * library's bit trick), so overflow, subnormals and NaN (0x7E00 with the sign) come out as in ggml.
 */
export function f32ToF16(x: number): number {
  const base0 = fround(fround(Math.abs(x) * 2 ** 112) * 2 ** -110);
  const w = f32Bits(x);
  const shl1 = (w << 1) >>> 0;
  const sign = w & 0x80000000;
  let bias = (shl1 & 0xff000000) >>> 0;
  if (bias < 0x71000000) bias = 0x71000000;
  const base = fround(f32FromBits((bias >>> 1) + 0x07800000) + base0);
  const bits = f32Bits(base);
  const nonsign = ((bits >>> 13) & 0x7c00) + (bits & 0x0fff);
  return (sign >>> 16) | (shl1 > 0xff000000 ? 0x7e00 : nonsign);
}

/** Every half value as float32, indexed by its bits. */
const F16_TABLE = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
})();

export function f16ToF32(bits: number): number {
  return F16_TABLE[bits & 0xffff];
}

/** bfloat16 bits of x, rounded to nearest even; NaN stays NaN with the quiet bit set (ggml and gguf-py). */
export function f32ToBf16(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 64;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(bits: number): number {
  return f32FromBits((bits & 0xffff) << 16);
}

export function encodeF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16(values[i]);
  return out;
}

export function decodeF16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = F16_TABLE[bits[i]];
  return out;
}

export function encodeBf16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16(values[i]);
  return out;
}

export function decodeBf16(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

function checkBlocks(n: number, what: string): number {
  if (n % QK !== 0) throw new RangeError(`${what}: ${n} values are not a whole number of ${QK}-value blocks`);
  return n / QK;
}

/** C `roundf`: halves go away from zero (Math.round sends −2.5 to −2). */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** Q8_0 blocks `{ f16 d; int8 qs[32] }`: d = max|x| / 127, q = roundf(x / d). */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = checkBlocks(values.length, 'Q8_0');
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x = values.subarray(b * QK, (b + 1) * QK);
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[j]));
    const d = fround(amax / 127);
    const id = d ? fround(1 / d) : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    view.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < QK; j++) view.setInt8(o + 2 + j, roundHalfAway(fround(x[j] * id)));
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const blocks = checkBlocks(count, 'Q8_0');
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = F16_TABLE[view.getUint16(o, true)];
    for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(o + 2 + j) * d;
  }
  return out;
}

/**
 * Q4_0 blocks `{ f16 d; u8 qs[16] }`: d = −(the value of largest magnitude) / 8; byte j holds element j in its
 * low nibble and element j+16 in its high nibble. `x·id + 8.5` is taken in float64 and rounded once to
 * float32 before truncation, which is what the C code computes once the compiler fuses it into an FMA
 * (gguf-py does the same).
 */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  const blocks = checkBlocks(values.length, 'Q4_0');
  const out = new Uint8Array(blocks * Q4_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const nibble = (v: number, id: number) => Math.min(15, Math.max(0, Math.trunc(fround(v * id + 8.5))));
  for (let b = 0; b < blocks; b++) {
    const x = values.subarray(b * QK, (b + 1) * QK);
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      if (amax < Math.abs(x[j])) {
        amax = Math.abs(x[j]);
        max = x[j];
      }
    }
    const d = fround(max / -8);
    const id = d ? fround(1 / d) : 0;
    const o = b * Q4_0_BLOCK_BYTES;
    view.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < QK / 2; j++) out[o + 2 + j] = nibble(x[j], id) | (nibble(x[j + QK / 2], id) << 4);
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  const blocks = checkBlocks(count, 'Q4_0');
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = F16_TABLE[view.getUint16(o, true)];
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 2 + j];
      out[b * QK + j] = ((q & 0x0f) - 8) * d;
      out[b * QK + j + QK / 2] = ((q >>> 4) - 8) * d;
    }
  }
  return out;
}
