// GGUF v3 container (docs/FORMATS.md#gguf-container): a header of typed key/value metadata and tensor infos, then
// tensor data, each tensor padded to the alignment, the last one too. The writer emits what ggml's strict
// reader (`gguf.cpp`) accepts: unique keys, no nested arrays, u32 `general.alignment`, tensor offsets packed
// in info order. The reader checks everything gguf.cpp checks, and validates every length and count against
// the bytes left in the file before reading or allocating, so a hostile file fails fast with the file and
// key or tensor named instead of hanging or exhausting memory.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FormatError } from './errors.ts';
import { writeAtomically } from './safetensors.ts';
import { decodeBf16, decodeF16, dequantizeQ4_0, dequantizeQ8_0 } from './quant.ts';

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_NAME (64) less the terminating NUL. */
export const MAX_TENSOR_NAME_BYTES = 63;
export const MAX_DIMS = 4;

/** ggml_type ids, element block and bytes per block (ggml's type traits), for every live type. */
export const GGML_TYPES: Readonly<Record<number, { name: string; blockSize: number; typeSize: number }>> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  17: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  18: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  19: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  20: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  21: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  22: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  23: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  29: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
  34: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  39: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
  40: { name: 'NVFP4', blockSize: 64, typeSize: 36 },
  41: { name: 'Q1_0', blockSize: 128, typeSize: 18 },
  42: { name: 'Q2_0', blockSize: 64, typeSize: 18 },
};

/** The tensor types ownlm writes and dequantizes. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;

const VALUE_TYPES = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
] as const;
export type GgufScalarType = Exclude<(typeof VALUE_TYPES)[number], 'array'>;
const SCALAR_BYTES: Record<Exclude<GgufScalarType, 'string'>, number> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** 64-bit integers are bigints; other numbers are numbers. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue =
  | { type: GgufScalarType; value: GgufScalar }
  | { type: 'array'; elementType: GgufScalarType; value: GgufScalar[] };

export interface GgufTensorInput {
  name: string;
  type: number;
  /** ggml order: ne[0] is the contiguous axis (numpy shape reversed). */
  ne: readonly number[];
  /** The tensor bytes, or a function making them when the writer reaches the tensor (bounds memory). */
  data: Uint8Array | (() => Uint8Array);
}

/** Bytes of a tensor of this type and ne; ne[0] must be a whole number of blocks. */
export function ggmlTensorBytes(type: number, ne: readonly number[]): number {
  const traits = GGML_TYPES[type];
  if (!traits) throw new RangeError(`unknown ggml type ${type}`);
  let elements = 1;
  for (const d of ne) elements *= d;
  if ((ne[0] ?? 1) % traits.blockSize !== 0)
    throw new RangeError(`${traits.name} needs ne[0] (${ne[0]}) to be a multiple of ${traits.blockSize}`);
  return (elements / traits.blockSize) * traits.typeSize;
}

const pad = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment;

/** Little-endian encoder of the header, growing as needed. */
class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  /**
   * Makes room for n bytes and returns their offset. It may replace `buffer` and `view`: take the offset
   * before reading either (`view.set(reserve(4), …)` would write into the old buffer).
   */
  private reserve(n: number): number {
    if (this.length + n > this.buffer.length) {
      const next = new Uint8Array(Math.max(this.buffer.length * 2, this.length + n));
      next.set(this.buffer.subarray(0, this.length));
      this.buffer = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }

  u64(v: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }

  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    const at = this.reserve(bytes.length);
    this.buffer.set(bytes, at);
  }

  scalar(type: GgufScalarType, v: GgufScalar, key: string): void {
    if (type === 'string') {
      if (typeof v !== 'string') throw new TypeError(`gguf: ${key} must be a string`);
      return this.string(v);
    }
    if (type === 'u64' || type === 'i64') {
      if (typeof v !== 'bigint' && !Number.isSafeInteger(v))
        throw new TypeError(`gguf: ${key} must be an integer`);
      const at = this.reserve(8);
      if (type === 'u64') this.view.setBigUint64(at, BigInt(v), true);
      else this.view.setBigInt64(at, BigInt(v), true);
      return;
    }
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw new TypeError(`gguf: ${key} must be a boolean`);
      const at = this.reserve(1);
      this.view.setUint8(at, v ? 1 : 0);
      return;
    }
    if (typeof v !== 'number') throw new TypeError(`gguf: ${key} must be a number`);
    const at = this.reserve(SCALAR_BYTES[type]);
    if (type !== 'f32' && type !== 'f64' && !Number.isInteger(v))
      throw new TypeError(`gguf: ${key} must be an integer`);
    const setters = {
      u8: () => this.view.setUint8(at, v),
      i8: () => this.view.setInt8(at, v),
      u16: () => this.view.setUint16(at, v, true),
      i16: () => this.view.setInt16(at, v, true),
      u32: () => this.view.setUint32(at, v, true),
      i32: () => this.view.setInt32(at, v, true),
      f32: () => this.view.setFloat32(at, v, true),
      f64: () => this.view.setFloat64(at, v, true),
    };
    setters[type]();
  }

  zeros(n: number): void {
    this.reserve(n);
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * The header (through the padding before the data) and the tensor chunks of a GGUF file. Metadata is written
 * in the given order; `general.alignment` is taken from it when present (it must then be a u32).
 */
function layout(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInput[]) {
  const alignmentValue = metadata.get('general.alignment');
  if (alignmentValue && alignmentValue.type !== 'u32')
    throw new TypeError('gguf: general.alignment must be a u32');
  const alignment = (alignmentValue?.value as number | undefined) ?? DEFAULT_ALIGNMENT;
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0))
    throw new RangeError(`gguf: general.alignment ${alignment} is not a power of two`);

  const w = new ByteWriter();
  w.u32(MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, v] of metadata) {
    w.string(key);
    w.u32(VALUE_TYPES.indexOf(v.type));
    if (v.type === 'array') {
      w.u32(VALUE_TYPES.indexOf(v.elementType));
      w.u64(v.value.length);
      for (const element of v.value) w.scalar(v.elementType, element, key);
    } else w.scalar(v.type, v.value, key);
  }
  const names = new Set<string>();
  let offset = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    if (Buffer.byteLength(t.name) > MAX_TENSOR_NAME_BYTES || names.has(t.name))
      throw new RangeError(`gguf: tensor name "${t.name}" is longer than 63 bytes or repeated`);
    if (t.ne.length < 1 || t.ne.length > MAX_DIMS)
      throw new RangeError(`gguf: tensor "${t.name}" needs 1 to 4 dims`);
    names.add(t.name);
    const bytes = ggmlTensorBytes(t.type, t.ne);
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    sizes.push(bytes);
    offset += pad(bytes, alignment);
  }
  w.zeros(pad(w.length, alignment) - w.length);
  return { header: w.bytes(), sizes, alignment };
}

/** Writes a GGUF v3 file atomically; tensor data made lazily is produced one tensor at a time. */
export function writeGguf(
  path: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorInput[],
): void {
  const { header, sizes, alignment } = layout(metadata, tensors);
  function* chunks(): Generator<Uint8Array> {
    yield header;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i];
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.length !== sizes[i])
        throw new RangeError(
          `gguf: tensor "${t.name}" has ${data.length} bytes, its type and ne need ${sizes[i]}`,
        );
      yield data;
      const padding = pad(data.length, alignment) - data.length;
      if (padding > 0) yield new Uint8Array(padding);
    }
  }
  writeAtomically(path, chunks());
}

export interface GgufTensorInfo {
  name: string;
  type: number;
  ne: number[];
  /** Absolute position of the data in the file. */
  start: number;
  bytes: number;
}

export interface GgufHeader {
  file: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
}

/** Reads a file through a window, refusing any read past the end before allocating for it. */
class FileCursor {
  position = 0;
  private window = new Uint8Array(0);
  private windowStart = 0;
  private view = new DataView(this.window.buffer);
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly file: string,
  ) {}

  get remaining(): number {
    return this.size - this.position;
  }

  fail(field: string, detail: string): FormatError {
    return new FormatError('invalid', this.file, field, detail);
  }

  /** Makes n bytes at the position readable through `view` and returns their offset in it. */
  private take(n: number, field: string): number {
    if (n > this.remaining)
      throw this.fail(
        field,
        `needs ${n} bytes at offset ${this.position}, but the file ends at ${this.size}`,
      );
    let at = this.position - this.windowStart;
    if (at < 0 || at + n > this.window.length) {
      const length = Math.min(Math.max(n, 1 << 20), this.remaining);
      this.window = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const read = readSync(this.fd, this.window, done, length - done, this.position + done);
        if (read === 0) throw this.fail(field, `the file ended early at ${this.position + done}`);
        done += read;
      }
      this.windowStart = this.position;
      this.view = new DataView(this.window.buffer);
      at = 0;
    }
    this.position += n;
    return at;
  }

  u32(field: string): number {
    const at = this.take(4, field);
    return this.view.getUint32(at, true);
  }

  /** A u64 as a number; values past 2^53 are refused (no file can hold that many of anything). */
  u64(field: string): number {
    const at = this.take(8, field);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(field, `${v} is out of range`);
    return Number(v);
  }

  string(field: string): string {
    const length = this.u64(field);
    if (length > this.remaining)
      throw this.fail(field, `string length ${length} exceeds the ${this.remaining} bytes left in the file`);
    const at = this.take(length, field);
    return this.decoder.decode(this.window.subarray(at, at + length));
  }

  scalar(type: GgufScalarType, field: string): GgufScalar {
    if (type === 'string') return this.string(field);
    const at = this.take(SCALAR_BYTES[type], field);
    const v = this.view;
    switch (type) {
      case 'u8':
        return v.getUint8(at);
      case 'i8':
        return v.getInt8(at);
      case 'u16':
        return v.getUint16(at, true);
      case 'i16':
        return v.getInt16(at, true);
      case 'u32':
        return v.getUint32(at, true);
      case 'i32':
        return v.getInt32(at, true);
      case 'f32':
        return v.getFloat32(at, true);
      case 'bool': {
        const b = v.getUint8(at);
        if (b > 1) throw this.fail(field, `bool value ${b} is not 0 or 1`);
        return b === 1;
      }
      case 'u64':
        return v.getBigUint64(at, true);
      case 'i64':
        return v.getBigInt64(at, true);
      case 'f64':
        return v.getFloat64(at, true);
    }
  }
}

function valueType(id: number, cursor: FileCursor, field: string): (typeof VALUE_TYPES)[number] {
  const type = VALUE_TYPES[id];
  if (type === undefined) throw cursor.fail(field, `invalid GGUF value type ${id}`);
  return type;
}

function readValue(cursor: FileCursor, key: string): GgufValue {
  const field = `key "${key}"`;
  const type = valueType(cursor.u32(field), cursor, field);
  if (type !== 'array') return { type, value: cursor.scalar(type, field) };
  const elementType = valueType(cursor.u32(field), cursor, field);
  if (elementType === 'array') throw cursor.fail(field, 'nested arrays are not supported by ggml');
  const count = cursor.u64(field);
  const minBytes = elementType === 'string' ? 8 : SCALAR_BYTES[elementType];
  if (count * minBytes > cursor.remaining)
    throw cursor.fail(
      field,
      `array of ${count} ${elementType} needs more than the ${cursor.remaining} bytes left`,
    );
  const value: GgufScalar[] = new Array(count);
  for (let i = 0; i < count; i++) value[i] = cursor.scalar(elementType, field);
  return { type: 'array', elementType, value };
}

function readHeader(cursor: FileCursor, file: string): GgufHeader {
  if (cursor.size < 8 || cursor.u32('magic') !== MAGIC) {
    throw new FormatError('invalid', file, 'magic', 'not a GGUF file (it does not start with "GGUF")');
  }
  const version = cursor.u32('version');
  if (version !== 2 && version !== 3)
    throw new FormatError('unsupported', file, 'version', `GGUF version ${version} (2 and 3 are supported)`);
  const tensorCount = cursor.u64('n_tensors');
  const kvCount = cursor.u64('n_kv');
  // The smallest key/value (empty key, u8) takes 13 bytes; the smallest tensor info (empty name, 1 dim) 32.
  if (kvCount * 13 > cursor.remaining) throw cursor.fail('n_kv', `${kvCount} pairs cannot fit in the file`);
  if (tensorCount * 32 > cursor.remaining)
    throw cursor.fail('n_tensors', `${tensorCount} tensors cannot fit in the file`);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`key ${i}`);
    if (key === '') throw cursor.fail(`key ${i}`, 'is empty');
    if (metadata.has(key)) throw cursor.fail(`key "${key}"`, 'appears twice');
    metadata.set(key, readValue(cursor, key));
  }
  let alignment = DEFAULT_ALIGNMENT;
  const alignmentValue = metadata.get('general.alignment');
  if (alignmentValue) {
    if (alignmentValue.type !== 'u32')
      throw cursor.fail('key "general.alignment"', `must be u32, is ${alignmentValue.type}`);
    alignment = alignmentValue.value as number;
    if (alignment === 0 || (alignment & (alignment - 1)) !== 0)
      throw cursor.fail('key "general.alignment"', `${alignment} is not a power of two`);
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  let expectedOffset = 0;
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string(`tensor ${i} name`);
    const field = `tensor "${name}"`;
    if (Buffer.byteLength(name) > MAX_TENSOR_NAME_BYTES)
      throw cursor.fail(
        field,
        `name is ${Buffer.byteLength(name)} bytes, more than ${MAX_TENSOR_NAME_BYTES}`,
      );
    if (names.has(name)) throw cursor.fail(field, 'appears twice');
    names.add(name);
    const dims = cursor.u32(`${field} n_dims`);
    if (dims > MAX_DIMS) throw cursor.fail(field, `has ${dims} dimensions, more than ${MAX_DIMS}`);
    const ne: number[] = [];
    let elements = 1;
    for (let j = 0; j < dims; j++) {
      ne.push(cursor.u64(`${field} ne[${j}]`));
      elements *= ne[j];
    }
    if (elements > Number.MAX_SAFE_INTEGER) throw cursor.fail(field, `ne [${ne}] has too many elements`);
    const type = cursor.u32(`${field} type`);
    const traits = GGML_TYPES[type];
    if (!traits) throw cursor.fail(field, `invalid ggml type ${type}`);
    if ((ne[0] ?? 1) % traits.blockSize !== 0)
      throw cursor.fail(
        field,
        `${traits.name} rows of ${ne[0]} elements are not a multiple of the block size ${traits.blockSize}`,
      );
    const offset = cursor.u64(`${field} offset`);
    if (offset !== expectedOffset)
      throw cursor.fail(
        field,
        `has offset ${offset}, expected ${expectedOffset} (data must be packed in info order)`,
      );
    const bytes = (elements / traits.blockSize) * traits.typeSize;
    tensors.push({ name, type, ne, start: offset, bytes });
    expectedOffset += pad(bytes, alignment);
  }
  const dataStart = pad(cursor.position, alignment);
  for (const t of tensors) {
    t.start += dataStart;
    if (t.start + t.bytes > cursor.size)
      throw cursor.fail(
        `tensor "${t.name}"`,
        `data [${t.start}, ${t.start + t.bytes}) runs past the end of the ${cursor.size}-byte file`,
      );
  }
  return { file, version, metadata, tensors, alignment };
}

function openForReading(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FormatError('not-found', path, '', 'no such file');
    throw error;
  }
}

/** Parses and validates the header of a GGUF file (no tensor data is read). */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openForReading(path);
  try {
    return readHeader(new FileCursor(fd, fstatSync(fd).size, path), path);
  } finally {
    closeSync(fd);
  }
}

/** The raw bytes of the tensors (all, or the named ones), keyed by name. */
export function readGgufTensorBytes(header: GgufHeader, names?: Iterable<string>): Map<string, Uint8Array> {
  const wanted = names === undefined ? null : new Set(names);
  const fd = openForReading(header.file);
  try {
    const out = new Map<string, Uint8Array>();
    for (const t of header.tensors) {
      if (wanted && !wanted.has(t.name)) continue;
      const bytes = new Uint8Array(t.bytes);
      for (let done = 0; done < t.bytes;) {
        const n = readSync(fd, bytes, done, Math.min(t.bytes - done, 1 << 30), t.start + done);
        if (n === 0)
          throw new FormatError('invalid', header.file, `tensor "${t.name}"`, 'the file ended early');
        done += n;
      }
      out.set(t.name, bytes);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Float32 values of a tensor of type F32, F16, BF16, Q8_0 or Q4_0 (ggml's dequantization). */
export function dequantizeTensor(info: GgufTensorInfo, bytes: Uint8Array, file: string): Float32Array {
  const count = info.ne.reduce((a, b) => a * b, 1);
  // A copy, not `slice()`: on a Buffer that is a view at the same misaligned offset.
  const aligned = (size: number) => (bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes));
  switch (info.type) {
    case GgmlType.F32: {
      const b = aligned(4);
      return new Float32Array(b.buffer, b.byteOffset, count);
    }
    case GgmlType.F16: {
      const b = aligned(2);
      return decodeF16(new Uint16Array(b.buffer, b.byteOffset, count));
    }
    case GgmlType.BF16: {
      const b = aligned(2);
      return decodeBf16(new Uint16Array(b.buffer, b.byteOffset, count));
    }
    case GgmlType.Q8_0:
      return dequantizeQ8_0(bytes, count);
    case GgmlType.Q4_0:
      return dequantizeQ4_0(bytes, count);
    default:
      throw new FormatError(
        'unsupported',
        file,
        `tensor "${info.name}"`,
        `type ${GGML_TYPES[info.type]?.name ?? info.type} cannot be read (F32, F16, BF16, Q8_0 and Q4_0 can; convert K-quants with llama-quantize)`,
      );
  }
}
