// safetensors (docs/FORMATS.md#safetensors): an 8-byte header length, a JSON header and the little-endian tensor
// bytes. The writer emits exactly the bytes of the reference Rust `serialize()` (tensors by dtype alignment
// then byte-wise name, compact JSON with `__metadata__` first, space padding to 8), so checkpoints hash the
// same whichever tool wrote them. The reader validates every length and offset before allocating anything
// sized by the file, and names the file and the field in each rejection.
//
// Typed arrays are written and read in the machine's byte order, which is little-endian on every platform
// Node supports (x64, arm64), as the format requires.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError, quoteValue } from './errors.ts';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from './quant.ts';

/** dtype name → bits per element, in the reference `Dtype` enum order (the writer's alignment order). */
const DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BITS;

const DTYPE_RANK = new Map(Object.keys(DTYPE_BITS).map((name, rank) => [name, rank]));

/** The reference reader's limit on the header length (HeaderTooLarge). */
export const MAX_HEADER_BYTES = 100_000_000;

/** What transformers and PEFT write, and what transformers requires when metadata is present. */
export const DEFAULT_METADATA: Readonly<Record<string, string>> = { format: 'pt' };

export interface SafetensorsTensorInput {
  name: string;
  dtype: SafetensorsDtype;
  /** numpy (row-major) order. */
  shape: readonly number[];
  /**
   * The raw elements (Uint16Array of bits for F16/BF16). A Float32Array with dtype F16 or BF16 is converted,
   * rounding to nearest even.
   */
  data: ArrayBufferView;
}

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BITS, value);
}

/** Bytes of a tensor of this dtype and shape, or null when the bit count is not whole bytes. */
export function tensorByteLength(dtype: SafetensorsDtype, shape: readonly number[]): number | null {
  let elements = 1;
  for (const d of shape) elements *= d;
  const bits = elements * DTYPE_BITS[dtype];
  return bits % 8 === 0 ? bits / 8 : null;
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function tensorBytes(tensor: SafetensorsTensorInput): Uint8Array {
  let data = tensor.data;
  if (data instanceof Float32Array && tensor.dtype === 'F16') data = encodeF16(data);
  else if (data instanceof Float32Array && tensor.dtype === 'BF16') data = encodeBf16(data);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const expected = tensorByteLength(tensor.dtype, tensor.shape);
  if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new RangeError(`safetensors: tensor "${tensor.name}" has an invalid shape [${tensor.shape}]`);
  if (expected !== bytes.length) {
    throw new RangeError(
      `safetensors: tensor "${tensor.name}" (${tensor.dtype} [${tensor.shape}]) needs ${expected} bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

/** The 8-byte length and padded header, and the tensor bytes in file order. */
function layout(
  tensors: readonly SafetensorsTensorInput[],
  metadata: Readonly<Record<string, string>> | null,
): { head: Uint8Array; parts: Uint8Array[] } {
  const names = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || names.has(t.name))
      throw new RangeError(`safetensors: tensor name "${t.name}" is reserved or repeated`);
    names.add(t.name);
  }
  const ordered = [...tensors].sort(
    (a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || utf8Compare(a.name, b.name),
  );
  // Built by hand: JSON.stringify would move integer-like keys ("0", "12") ahead of the others.
  const entries: string[] = [];
  if (metadata !== null) {
    const fields = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    entries.push(`"__metadata__":{${fields.join(',')}}`);
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const t of ordered) {
    const bytes = tensorBytes(t);
    parts.push(bytes);
    const info = `{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + bytes.length}]}`;
    entries.push(`${JSON.stringify(t.name)}:${info}`);
    offset += bytes.length;
  }
  const json = Buffer.from(`{${entries.join(',')}}`, 'utf8');
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, parts };
}

/** The file's bytes, as the reference writer makes them (for hashing and tests). */
export function serializeSafetensors(
  tensors: readonly SafetensorsTensorInput[],
  metadata: Readonly<Record<string, string>> | null = DEFAULT_METADATA,
): Uint8Array {
  const { head, parts } = layout(tensors, metadata);
  const out = new Uint8Array(head.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(head);
  let offset = head.length;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Writes `path` atomically: a temporary sibling, fsynced, renamed over the target, the folder fsynced. */
export function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorInput[],
  metadata: Readonly<Record<string, string>> | null = DEFAULT_METADATA,
): void {
  const { head, parts } = layout(tensors, metadata);
  writeAtomically(path, [head, ...parts]);
}

/** Writes the chunks to `path` through a temporary file that replaces it only once complete and on disk. */
export function writeAtomically(path: string, chunks: Iterable<Uint8Array>): void {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(temp, 'w');
  try {
    for (const chunk of chunks) {
      for (let done = 0; done < chunk.length;)
        done += writeSync(fd, chunk, done, Math.min(chunk.length - done, 1 << 30));
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  syncFolder(dirname(path));
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** One tensor's header entry; offsets are absolute file positions. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** `__metadata__`, or null when the file has none. */
  metadata: Record<string, string> | null;
  /** In file (offset) order. */
  tensors: SafetensorsTensorInfo[];
}

/**
 * Validates a header against the file length: JSON object, string-only metadata, known dtypes, whole-number
 * shapes, `data_offsets` sized by shape × dtype and tiling the data buffer from 0 to the end of the file.
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileLength: number,
  file: string,
): SafetensorsHeader {
  const fail = (field: string, detail: string) => new FormatError('invalid', file, field, detail);
  if (json[0] !== 0x7b) throw fail('header', 'the JSON header does not start with "{"');
  let root: unknown;
  try {
    root = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (error) {
    throw fail('header', `not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root))
    throw fail('header', 'the JSON header is not an object');

  let metadata: Record<string, string> | null = null;
  const tensors: SafetensorsTensorInfo[] = [];
  const dataStart = 8 + json.length;
  for (const [name, value] of Object.entries(root)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw fail('__metadata__', 'must be an object of strings');
      for (const [key, v] of Object.entries(value))
        if (typeof v !== 'string') throw fail(`__metadata__.${key}`, 'must be a string');
      metadata = value as Record<string, string>;
      continue;
    }
    const field = `tensor "${name}"`;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw fail(field, 'must be an object with dtype, shape and data_offsets');
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isSafetensorsDtype(dtype)) throw fail(`${field}.dtype`, `unknown dtype ${quoteValue(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw fail(`${field}.shape`, 'must be an array of non-negative integers');
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    )
      throw fail(`${field}.data_offsets`, 'must be [begin, end] with non-negative integers');
    const [begin, end] = offsets as number[];
    if (end < begin) throw fail(`${field}.data_offsets`, `end ${end} is before begin ${begin}`);
    const bytes = tensorByteLength(dtype, shape);
    if (bytes === null) throw fail(`${field}.shape`, `${dtype} [${shape}] is not a whole number of bytes`);
    if (bytes !== end - begin)
      throw fail(
        `${field}.data_offsets`,
        `[${begin}, ${end}] holds ${end - begin} bytes but ${dtype} [${shape}] needs ${bytes}`,
      );
    tensors.push({ name, dtype, shape, start: dataStart + begin, end: dataStart + end });
  }
  tensors.sort((a, b) => a.start - b.start || a.end - b.end);
  let position = dataStart;
  for (const t of tensors) {
    if (t.start !== position) {
      const [begin, end] = [t.start - dataStart, t.end - dataStart];
      throw fail(
        `tensor "${t.name}".data_offsets`,
        `[${begin}, ${end}] ${t.start < position ? 'overlaps the previous tensor' : 'leaves a gap after the previous tensor'} (expected begin ${position - dataStart})`,
      );
    }
    position = t.end;
  }
  if (position !== fileLength) {
    throw fail(
      'data',
      `the tensors end at byte ${position} but the file has ${fileLength} bytes${position > fileLength ? ' (truncated?)' : ''}`,
    );
  }
  return { file, metadata, tensors };
}

/** A tensor read from a file: raw bytes plus the dtype and shape to read them by. */
export class SafetensorsTensor {
  constructor(
    readonly name: string,
    readonly dtype: SafetensorsDtype,
    readonly shape: readonly number[],
    readonly bytes: Uint8Array,
    /** The file it was read from. */
    readonly file: string,
  ) {}

  /** The values as float32 (F32, F16, BF16 and F64; other dtypes are refused). F32 views the bytes. */
  toFloat32(): Float32Array {
    switch (this.dtype) {
      case 'F32':
        return this.view(Float32Array);
      case 'F16':
        return decodeF16(this.view(Uint16Array));
      case 'BF16':
        return decodeBf16(this.view(Uint16Array));
      case 'F64':
        return Float32Array.from(this.view(Float64Array));
      default:
        throw new FormatError(
          'unsupported',
          this.file,
          `tensor "${this.name}".dtype`,
          `${this.dtype} cannot be read as floating point (F32, F16, BF16 or F64 can)`,
        );
    }
  }

  /** The bytes as elements of a typed array, copied only when misaligned for it. */
  private view<T>(type: {
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
    BYTES_PER_ELEMENT: number;
  }): T {
    const size = type.BYTES_PER_ELEMENT;
    // A copy, not `slice()`: on a Buffer (readFileSync's bytes) that is a view at the same misaligned offset.
    const bytes = this.bytes.byteOffset % size === 0 ? this.bytes : new Uint8Array(this.bytes);
    return new type(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  }
}

export interface SafetensorsContents {
  metadata: Record<string, string> | null;
  tensors: Map<string, SafetensorsTensor>;
}

function openForReading(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FormatError('not-found', path, '', 'no such file');
    throw error;
  }
}

function readExactly(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
  return out;
}

/** N from the first 8 bytes, checked against the reference limit and the file length before any allocation. */
function headerLength(first8: Uint8Array, fileLength: number, file: string): number {
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  const fail = (detail: string) => new FormatError('invalid', file, 'header length', detail);
  if (n > BigInt(MAX_HEADER_BYTES)) throw fail(`${n} bytes exceeds the limit of ${MAX_HEADER_BYTES}`);
  if (8 + Number(n) > fileLength) throw fail(`${n} bytes run past the end of the ${fileLength}-byte file`);
  return Number(n);
}

function readHeaderFromFd(fd: number, path: string): SafetensorsHeader {
  const size = fstatSync(fd).size;
  if (size < 8) throw new FormatError('invalid', path, 'header length', `the file has only ${size} bytes`);
  const n = headerLength(readExactly(fd, 8, 0), size, path);
  return parseSafetensorsHeader(readExactly(fd, n, 8), size, path);
}

/** The validated header of a file, without reading tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForReading(path);
  try {
    return readHeaderFromFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** Reads a file (only the named tensors when `names` is given), each tensor in its own buffer. */
export function readSafetensors(path: string, names?: Iterable<string>): SafetensorsContents {
  const fd = openForReading(path);
  try {
    const header = readHeaderFromFd(fd, path);
    const wanted = names === undefined ? null : new Set(names);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const t of header.tensors) {
      if (wanted && !wanted.has(t.name)) continue;
      const bytes = readExactly(fd, t.end - t.start, t.start);
      tensors.set(t.name, new SafetensorsTensor(t.name, t.dtype, t.shape, bytes, path));
    }
    for (const name of wanted ?? [])
      if (!tensors.has(name)) throw new FormatError('invalid', path, `tensor "${name}"`, 'not in the file');
    return { metadata: header.metadata, tensors };
  } finally {
    closeSync(fd);
  }
}

/** Parses a whole file held in memory; tensors view the given bytes. */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsContents {
  if (bytes.length < 8)
    throw new FormatError('invalid', file, 'header length', `the file has only ${bytes.length} bytes`);
  const n = headerLength(bytes, bytes.length, file);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, file);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of header.tensors)
    tensors.set(
      t.name,
      new SafetensorsTensor(t.name, t.dtype, t.shape, bytes.subarray(t.start, t.end), file),
    );
  return { metadata: header.metadata, tensors };
}
