// Structure-aware mutation of safetensors files (docs/FORMATS.md#safetensors): the JSON header mutated as JSON
// (offsets of other tensors ±1, shapes and dtypes swapped, keys repeated, nesting), written back with a header
// length that usually matches it, then perhaps byte-level mutations aimed at the length, the header's end and
// every tensor's boundary.
import type { Random } from '@ownlm/engine';
import { chance, mutateBytes, pick, type Field } from './bytes.ts';
import { JsonMutator, serializeJson, toJsonNode, type JsonNode } from './json-mutator.ts';

/** Every dtype of the format, plus names it does not have. */
const DTYPES = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'U8',
  'I8',
  'F8_E5M2',
  'I16',
  'F16',
  'BF16',
  'I32',
  'F32',
  'C64',
  'F64',
  'U64',
  'F128',
  'f32',
  '',
];

export class SafetensorsMutator {
  private readonly json: JsonMutator;
  private readonly headerLength: bigint;
  private readonly data: Uint8Array;
  /** Tensor boundaries in the data buffer. */
  private readonly boundaries: number[];

  constructor(bytes: Uint8Array) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.headerLength = view.getBigUint64(0, true);
    const end = 8 + Number(this.headerLength);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, end))) as Record<string, unknown>;
    this.json = new JsonMutator(toJsonNode(header));
    this.data = bytes.slice(end);
    this.boundaries = Object.values(header).flatMap(
      (v) => (v as { data_offsets?: number[] }).data_offsets ?? [],
    );
  }

  mutate(random: Random): Uint8Array {
    const changed = chance(random, 0.85);
    let text = !changed
      ? serializeJson(this.json.root)
      : chance(random, 0.8)
        ? this.json.mutate(random)
        : serializeJson(withDtype(this.json.root, random));
    const padding = chance(random, 0.9) ? ' ' : pick(random, ['', '\u0000', '\t', '}']);
    if (padding !== '') while (Buffer.byteLength(text) % 8 !== 0) text += padding;
    const header = Buffer.from(text, 'utf8');
    const length = chance(random, 0.9)
      ? BigInt(header.length)
      : pick(random, [this.headerLength, BigInt(header.length) + 1n, BigInt(header.length) - 1n]);
    const data = chance(random, 0.9) ? this.data : this.data.subarray(0, random.int(this.data.length + 1));
    const out = new Uint8Array(8 + header.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, length), true);
    out.set(header, 8);
    out.set(data, 8 + header.length);
    if (changed && chance(random, 0.7)) return out;
    const dataStart = 8 + header.length;
    const fields: Field[] = [
      { offset: 0, size: 8, kind: 'u64' },
      { offset: 8, size: header.length, kind: 'bytes' },
      ...this.boundaries.map((b): Field => ({ offset: dataStart + b, size: 0, kind: 'bytes' })),
    ];
    return mutateBytes(out, fields, random, dataStart);
  }
}

/** One tensor entry's dtype replaced by another (sub-byte ones included), or by one the format lacks. */
function withDtype(root: JsonNode, random: Random): JsonNode {
  if (root.kind !== 'object' || root.entries.length === 0) return root;
  const i = random.int(root.entries.length);
  const [name, entry] = root.entries[i];
  if (entry.kind !== 'object') return root;
  const dtype: JsonNode = { kind: 'string', value: pick(random, DTYPES) };
  const entries = root.entries.slice();
  entries[i] = [
    name,
    { kind: 'object', entries: entry.entries.map(([k, v]) => [k, k === 'dtype' ? dtype : v]) },
  ];
  return { kind: 'object', entries };
}
