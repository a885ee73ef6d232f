// Byte-level mutations of a serialized input, aimed by a map of its structural fields: a length or count set to
// a value that is huge, zero, negative read as unsigned, off by one or past the end of the file; a type tag set
// to one the format does not have; truncation at every boundary; bit flips, byte runs, invalid UTF-8.
import type { Random } from '@ownlm/engine';

/** One field of a serialized input: where it is and how a mutation should treat it. */
export interface Field {
  offset: number;
  size: number;
  /** u64 lengths and counts, u32 numbers, u32 type tags, or opaque bytes (only their boundaries matter). */
  kind: 'u64' | 'u32' | 'tag' | 'bytes';
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.int(items.length)];
}

export function chance(random: Random, probability: number): boolean {
  return random.uniform() < probability;
}

/** u64 values that break length checks: overflow, sign confusion, 2^53 and the ends of 32-bit ranges. */
const EDGE_U64 = [
  0n,
  1n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 40n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 62n,
  2n ** 63n,
  2n ** 64n - 1n,
  2n ** 64n - 2n,
  2n ** 64n - 8n,
];
const U64 = 2n ** 64n;

/** A value for a u64 field: an edge, or one relative to its old value, the field's place and the file. */
function edgeU64(random: Random, old: bigint, field: Field, fileSize: number): bigint {
  const remaining = BigInt(fileSize - field.offset - field.size);
  const candidates = [
    ...EDGE_U64,
    old + 1n,
    old - 1n,
    old * 2n,
    old << 32n,
    remaining,
    remaining + 1n,
    BigInt(fileSize),
  ];
  return (((pick(random, candidates) % U64) + U64) % U64) as bigint;
}

/** A value for a u32 field: an edge or off by one; type tags also get the ids just past the valid ones. */
function edgeU32(random: Random, old: number, kind: Field['kind']): number {
  const candidates = [0, 1, old + 1, old - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 16, random.nextUint32()];
  if (kind === 'tag') candidates.push(9, 13, 31, 42, 43, 255, random.int(48));
  else candidates.push(5, 64, old * 2);
  return pick(random, candidates) >>> 0;
}

const INVALID_UTF8 = [
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0x80],
];

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/**
 * One byte-level mutation of `bytes` (a new array; the input is not changed). Mutations are aimed at `fields`
 * when there are any; `focus` bounds where unaimed ones land (the header, where the parser's decisions are).
 */
export function mutateBytes(
  bytes: Uint8Array,
  fields: readonly Field[],
  random: Random,
  focus = bytes.length,
): Uint8Array {
  const out = bytes.slice();
  const size = out.length;
  const view = new DataView(out.buffer);
  const at = () => random.int(Math.max(1, Math.min(focus, size)));
  const numeric = fields.filter((f) => f.kind !== 'bytes' && f.offset + f.size <= size);
  switch (random.int(9)) {
    case 0:
    case 1: {
      // A length, count or tag set to an edge value.
      if (numeric.length === 0) break;
      const field = pick(random, numeric);
      if (field.kind === 'u64')
        view.setBigUint64(
          field.offset,
          edgeU64(random, view.getBigUint64(field.offset, true), field, size),
          true,
        );
      else
        view.setUint32(field.offset, edgeU32(random, view.getUint32(field.offset, true), field.kind), true);
      return out;
    }
    case 2: {
      // Truncation at a structural boundary, or one byte either side of it.
      if (fields.length === 0) return out.subarray(0, at());
      const field = pick(random, fields);
      const boundary = field.offset + pick(random, [0, field.size, Math.floor(field.size / 2)]);
      return out.subarray(0, Math.max(0, Math.min(size, boundary + pick(random, [0, 0, -1, 1]))));
    }
    case 3: {
      for (let flips = 1 + random.int(8); flips > 0 && size > 0; flips--) out[at()] ^= 1 << random.int(8);
      return out;
    }
    case 4: {
      // A run of one byte value over what was there.
      if (size === 0) break;
      const start = at();
      const value = pick(random, [0x00, 0xff, 0x7f, 0x80, 0x20, random.int(256)]);
      out.fill(value, start, Math.min(size, start + 1 + random.int(64)));
      return out;
    }
    case 5:
      return splice(out, at(), 0, pick(random, INVALID_UTF8));
    case 6: {
      // Bytes removed or repeated, shifting everything after them.
      const start = at();
      const length = Math.min(size - start, 1 + random.int(32));
      return chance(random, 0.5)
        ? splice(out, start, length, [])
        : splice(out, start, 0, out.subarray(start, start + length));
    }
    case 7: {
      // One field's bytes copied over another's (a key where a count was, a name where a shape was).
      if (fields.length < 2) break;
      const from = pick(random, fields);
      const to = pick(random, fields);
      out.copyWithin(to.offset, from.offset, from.offset + from.size);
      return out;
    }
    case 8:
      return chance(random, 0.5)
        ? out.subarray(0, at())
        : splice(out, size, 0, new Uint8Array(1 + random.int(64)));
  }
  if (size > 0) out[at()] ^= 1 << random.int(8);
  return out;
}
