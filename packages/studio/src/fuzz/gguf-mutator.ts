// Structure-aware mutation of GGUF files (docs/FORMATS.md#gguf-container). A seed written by ownlm's writer is
// split into its key/value pairs and tensor infos; a mutant changes them (pairs dropped, repeated or reordered,
// a value re-typed or replaced by an edge value, an array of arrays, an array grown large, tensor dims, types
// and offsets set to edges, header counts that disagree with the body), is written back out with a map of
// every length, count and tag, and may then take byte-level mutations aimed by that map.
import type { Random } from '@ownlm/engine';
import { chance, mutateBytes, pick, type Field } from './bytes.ts';

interface KeyValue {
  key: Uint8Array;
  type: number;
  /** The value's bytes after its type tag. */
  payload: Uint8Array;
}

interface TensorInfo {
  name: Uint8Array;
  ne: bigint[];
  type: number;
  offset: bigint;
}

interface GgufParts {
  magic: number;
  version: number;
  /** Header counts; null writes the true number of pairs or tensors. */
  kvCount: bigint | null;
  tensorCount: bigint | null;
  pairs: KeyValue[];
  tensors: TensorInfo[];
  alignment: number;
  data: Uint8Array;
}

const SCALAR_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8];
const STRING = 8;
const ARRAY = 9;
const utf8 = new TextEncoder();

/** Length of the value of type `type` starting at `at` (the seed is trusted: ownlm wrote it). */
function valueLength(view: DataView, type: number, at: number): number {
  if (type === STRING) return 8 + Number(view.getBigUint64(at, true));
  if (type !== ARRAY) return SCALAR_BYTES[type];
  const elementType = view.getUint32(at, true);
  const count = Number(view.getBigUint64(at + 4, true));
  let length = 12;
  for (let i = 0; i < count; i++) length += valueLength(view, elementType, at + length);
  return length;
}

function parseSeed(bytes: Uint8Array): GgufParts {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  const u64 = () => {
    const v = view.getBigUint64(at, true);
    at += 8;
    return v;
  };
  const u32 = () => {
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const str = () => {
    const length = Number(u64());
    at += length;
    return bytes.slice(at - length, at);
  };
  const tensorCount = Number(u64());
  const kvCount = Number(u64());
  const pairs: KeyValue[] = [];
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    const length = valueLength(view, type, at);
    const payload = bytes.slice(at, at + length);
    at += length;
    if (new TextDecoder().decode(key) === 'general.alignment') alignment = view.getUint32(at - 4, true);
    pairs.push({ key, type, payload });
  }
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const dims = u32();
    const ne = Array.from({ length: dims }, u64);
    tensors.push({ name, ne, type: u32(), offset: u64() });
  }
  const dataStart = Math.ceil(at / alignment) * alignment;
  return {
    magic: view.getUint32(0, true),
    version: view.getUint32(4, true),
    kvCount: null,
    tensorCount: null,
    pairs,
    tensors,
    alignment,
    data: bytes.slice(dataStart),
  };
}

/** Grows as needed while it records where each field went. */
class Writer {
  bytes = new Uint8Array(1 << 16);
  length = 0;
  readonly fields: Field[] = [];

  private reserve(n: number): number {
    if (this.length + n > this.bytes.length) {
      const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
    }
    this.length += n;
    return this.length - n;
  }

  u32(v: number, kind: Field['kind'] = 'u32'): void {
    const at = this.reserve(4);
    new DataView(this.bytes.buffer).setUint32(at, v >>> 0, true);
    this.fields.push({ offset: at, size: 4, kind });
  }

  u64(v: bigint): void {
    const at = this.reserve(8);
    new DataView(this.bytes.buffer).setBigUint64(at, BigInt.asUintN(64, v), true);
    this.fields.push({ offset: at, size: 8, kind: 'u64' });
  }

  raw(b: Uint8Array, kind: Field['kind'] = 'bytes'): void {
    const at = this.reserve(b.length);
    this.bytes.set(b, at);
    if (kind !== 'bytes' || b.length > 0) this.fields.push({ offset: at, size: b.length, kind });
  }

  string(b: Uint8Array): void {
    this.u64(BigInt(b.length));
    this.raw(b);
  }

  done(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** Lengths, counts and tags inside a value, as far as its bytes make sense (they may be mutated). */
function valueFields(
  view: DataView,
  type: number,
  at: number,
  end: number,
  fields: Field[],
  budget = 64,
): number {
  if (type === STRING && at + 8 <= end) {
    fields.push({ offset: at, size: 8, kind: 'u64' });
    return at + 8 + Number(view.getBigUint64(at, true));
  }
  if (type === ARRAY && at + 12 <= end) {
    const elementType = view.getUint32(at, true);
    fields.push({ offset: at, size: 4, kind: 'tag' }, { offset: at + 4, size: 8, kind: 'u64' });
    let next = at + 12;
    const count = Number(view.getBigUint64(at + 4, true));
    for (let i = 0; i < Math.min(count, budget) && next < end; i++)
      next = valueFields(view, elementType, next, end, fields, 4);
    return next;
  }
  return at + Math.max(1, SCALAR_BYTES[type] ?? 1);
}

function serialize(
  parts: GgufParts,
  padTo: number,
): { bytes: Uint8Array; fields: Field[]; headerEnd: number } {
  const w = new Writer();
  w.u32(parts.magic, 'tag');
  w.u32(parts.version, 'tag');
  w.u64(parts.tensorCount ?? BigInt(parts.tensors.length));
  w.u64(parts.kvCount ?? BigInt(parts.pairs.length));
  for (const { key, type, payload } of parts.pairs) {
    w.string(key);
    w.u32(type, 'tag');
    const start = w.length;
    w.raw(payload);
    const view = new DataView(w.bytes.buffer);
    valueFields(view, type, start, start + payload.length, w.fields);
  }
  for (const t of parts.tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type, 'tag');
    w.u64(t.offset);
  }
  const headerEnd = w.length;
  w.raw(new Uint8Array(Math.ceil(w.length / padTo) * padTo - w.length));
  w.raw(parts.data);
  return { bytes: w.done().slice(), fields: w.fields, headerEnd };
}

const u32Bytes = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};
const u64Bytes = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const stringBytes = (s: Uint8Array) => concat(u64Bytes(BigInt(s.length)), s);

/** Strings a reader may look up in a table or treat as a name. */
const EDGE_STRINGS = [
  '',
  '__proto__',
  'constructor',
  'toString',
  'llama',
  'gpt2',
  'adapter',
  'x'.repeat(64),
  '\u0000',
];
/** Numbers for integer values: zero, one, small odd, and sizes no file could back. */
const EDGE_INTEGERS = [0, 1, 2, 3, 7, 31, 33, 255, 65_535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const EDGE_FLOATS = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e-45, 3.4e38];

/** The payload of a scalar of `type` holding an edge value. */
function edgeScalar(random: Random, type: number): Uint8Array {
  const size = SCALAR_BYTES[type];
  const b = new Uint8Array(size);
  const view = new DataView(b.buffer);
  if (type === 6) view.setFloat32(0, pick(random, EDGE_FLOATS), true);
  else if (type === 12) view.setFloat64(0, pick(random, EDGE_FLOATS), true);
  else if (size === 8)
    view.setBigUint64(
      0,
      BigInt.asUintN(64, BigInt(pick(random, EDGE_INTEGERS)) - BigInt(random.int(2))),
      true,
    );
  else {
    const v = pick(random, EDGE_INTEGERS);
    for (let i = 0; i < size; i++) b[i] = (v >>> (8 * i)) & 0xff;
  }
  return b;
}

/** A value of a random type (an array of arrays among them) in place of what the key held. */
function edgeValue(random: Random): { type: number; payload: Uint8Array } {
  const type = random.int(13);
  if (type === STRING) return { type, payload: stringBytes(utf8.encode(pick(random, EDGE_STRINGS))) };
  if (type !== ARRAY) return { type, payload: edgeScalar(random, type) };
  const elementType = random.int(13);
  const count = random.int(4);
  const elements: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (elementType === ARRAY) elements.push(concat(u32Bytes(4), u64Bytes(1n), u32Bytes(7)));
    else if (elementType === STRING) elements.push(stringBytes(utf8.encode(pick(random, EDGE_STRINGS))));
    else elements.push(edgeScalar(random, elementType));
  }
  return { type, payload: concat(u32Bytes(elementType), u64Bytes(BigInt(count)), ...elements) };
}

/** An array's elements repeated until it holds `count` of them (the per-layer arrays some readers spread). */
function grownArray(payload: Uint8Array, count: number): Uint8Array | null {
  if (payload.length < 12) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const elementType = view.getUint32(0, true);
  const size = SCALAR_BYTES[elementType];
  if (!(size > 0) || payload.length < 12 + size) return null;
  const element = payload.slice(12, 12 + size);
  const out = new Uint8Array(12 + count * size);
  out.set(u32Bytes(elementType));
  out.set(u64Bytes(BigInt(count)), 4);
  for (let i = 0; i < count; i++) out.set(element, 12 + i * size);
  return out;
}

const EDGE_DIMS = [0n, 1n, 31n, 33n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
const EDGE_GGML_TYPES = [0, 1, 2, 4, 5, 8, 12, 15, 30, 31, 33, 36, 42, 43, 2 ** 32 - 1];

export class GgufMutator {
  private readonly seed: GgufParts;

  constructor(bytes: Uint8Array) {
    this.seed = parseSeed(bytes);
  }

  mutate(random: Random): Uint8Array {
    const parts: GgufParts = {
      ...this.seed,
      pairs: this.seed.pairs.slice(),
      tensors: this.seed.tensors.map((t) => ({ ...t, ne: t.ne.slice() })),
    };
    const structural = chance(random, 0.8) ? 1 + random.int(3) : 0;
    for (let i = 0; i < structural; i++) this.mutateParts(parts, random);
    const { bytes, fields, headerEnd } = serialize(
      parts,
      chance(random, 0.9) ? parts.alignment : pick(random, [1, 8, 64]),
    );
    let out = bytes;
    const byteLevel = structural === 0 ? 1 + random.int(3) : chance(random, 0.3) ? 1 : 0;
    for (let i = 0; i < byteLevel; i++) out = mutateBytes(out, fields, random, headerEnd);
    return out;
  }

  private mutateParts(parts: GgufParts, random: Random): void {
    const { pairs, tensors } = parts;
    const p = random.int(Math.max(1, pairs.length));
    const t = random.int(Math.max(1, tensors.length));
    switch (random.int(14)) {
      case 0:
        pairs.splice(p, 1);
        break;
      case 1:
        if (pairs.length > 0) pairs.splice(random.int(pairs.length), 0, pairs[p]);
        break;
      case 2:
        if (pairs.length > 1) [pairs[p], pairs[0]] = [pairs[0], pairs[p]];
        break;
      case 3: {
        // Another key's name, an edge name, or invalid UTF-8.
        if (pairs.length === 0) break;
        const key = chance(random, 0.5)
          ? pick(random, pairs).key
          : chance(random, 0.5)
            ? utf8.encode(pick(random, EDGE_STRINGS))
            : Uint8Array.of(0xff, 0xfe, 0x2e);
        pairs[p] = { ...pairs[p], key };
        break;
      }
      case 4:
        // The value's type changed, its bytes kept (type confusion), or a tag past the valid ones.
        if (pairs.length > 0)
          pairs[p] = {
            ...pairs[p],
            type: chance(random, 0.8) ? random.int(13) : pick(random, [13, 2 ** 32 - 1]),
          };
        break;
      case 5:
      case 6: {
        // An edge value of the key's own type when it is a scalar, else of any type.
        if (pairs.length === 0) break;
        const { type } = pairs[p];
        pairs[p] =
          type !== STRING && type !== ARRAY && chance(random, 0.7)
            ? { ...pairs[p], payload: edgeScalar(random, type) }
            : { ...pairs[p], ...edgeValue(random) };
        break;
      }
      case 7: {
        const arrays = pairs.map((pair, i) => (pair.type === ARRAY ? i : -1)).filter((i) => i >= 0);
        if (arrays.length === 0) break;
        const i = pick(random, arrays);
        const grown = grownArray(pairs[i].payload, pick(random, [1_000, 200_000]));
        if (grown) pairs[i] = { ...pairs[i], payload: grown };
        break;
      }
      case 8: {
        // A scalar made a per-layer array of itself (as head_count_kv may be), possibly a large one.
        if (pairs.length === 0 || SCALAR_BYTES[pairs[p].type] <= 0) break;
        const count = pick(random, [1, 4, 200_000]);
        const elements = Array.from({ length: Math.min(count, 4) }, () => pairs[p].payload);
        const payload = concat(u32Bytes(pairs[p].type), u64Bytes(BigInt(count)), ...elements);
        const grown = count > 4 ? grownArray(payload, count) : payload;
        if (grown) pairs[p] = { ...pairs[p], type: ARRAY, payload: grown };
        break;
      }
      case 9:
        if (tensors.length > 0) tensors[t].ne[random.int(tensors[t].ne.length)] = pick(random, EDGE_DIMS);
        break;
      case 10:
        if (tensors.length > 0) {
          const ne = tensors[t].ne;
          if (chance(random, 0.5)) ne.push(...Array(1 + random.int(4)).fill(1n));
          else ne.splice(0, 1 + random.int(ne.length));
        }
        break;
      case 11:
        if (tensors.length > 0) tensors[t].type = pick(random, EDGE_GGML_TYPES);
        break;
      case 12:
        if (tensors.length === 0) break;
        if (chance(random, 0.5))
          tensors[t].offset = pick(random, [tensors[t].offset + 1n, tensors[t].offset - 32n, 0n, 2n ** 63n]);
        else if (chance(random, 0.5)) tensors.splice(random.int(tensors.length), 0, { ...tensors[t] });
        else if (chance(random, 0.5)) tensors[t] = { ...tensors[t], name: pick(random, tensors).name };
        else tensors.splice(t, 1);
        break;
      default: {
        // Header fields: a count that disagrees with the body, another version, data cut short.
        const which = random.int(4);
        if (which === 0)
          parts.kvCount = BigInt(pairs.length) + pick(random, [1n, -1n, 2n ** 32n, 2n ** 64n - 1n]);
        else if (which === 1) parts.tensorCount = BigInt(tensors.length) + pick(random, [1n, -1n, 2n ** 40n]);
        else if (which === 2) parts.version = pick(random, [0, 1, 2, 4, 2 ** 32 - 1]);
        else parts.data = parts.data.subarray(0, random.int(parts.data.length + 1));
      }
    }
  }
}
