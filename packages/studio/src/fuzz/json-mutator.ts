// Structure-aware mutation of JSON documents (safetensors headers, tokenizer.json, conversation lines): values of
// the wrong type, missing and repeated keys, keys that name Object.prototype members, huge and fractional numbers,
// numbers past 2^53, awkward Unicode, arrays grown large, and structures nested in themselves thousands deep.
// Mutations copy only the path they change, so one parsed seed serves every mutant.
import type { Random } from '@ownlm/engine';
import { chance, pick } from './bytes.ts';

/**
 * A JSON value as the mutator edits it. Objects keep their entries as a list, so a key can appear twice;
 * literals keep their text, so numbers that JSON.parse would round (1e400, 2^64) and prebuilt deep nesting
 * survive to the serialized document.
 */
export type JsonNode =
  | { kind: 'literal'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'array'; items: JsonNode[] }
  | { kind: 'object'; entries: [string, JsonNode][] };

const literal = (text: string): JsonNode => ({ kind: 'literal', text });
const string = (value: string): JsonNode => ({ kind: 'string', value });

export function toJsonNode(value: unknown): JsonNode {
  if (typeof value === 'string') return string(value);
  if (Array.isArray(value)) return { kind: 'array', items: value.map(toJsonNode) };
  if (value !== null && typeof value === 'object')
    return { kind: 'object', entries: Object.entries(value).map(([k, v]) => [k, toJsonNode(v)]) };
  return literal(JSON.stringify(value));
}

export function serializeJson(node: JsonNode): string {
  switch (node.kind) {
    case 'literal':
      return node.text;
    case 'string':
      return JSON.stringify(node.value);
    case 'array':
      return `[${node.items.map(serializeJson).join(',')}]`;
    case 'object':
      return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${serializeJson(v)}`).join(',')}}`;
  }
}

function children(node: JsonNode): JsonNode[] {
  if (node.kind === 'array') return node.items;
  if (node.kind === 'object') return node.entries.map((e) => e[1]);
  return [];
}

/** The node at `path` (child indexes from the root). */
function nodeAt(root: JsonNode, path: readonly number[]): JsonNode {
  let node = root;
  for (const i of path) node = children(node)[i];
  return node;
}

/** A copy of `root` with the node at `path` replaced by `change(node)`, or removed when it returns null. */
function update(
  root: JsonNode,
  path: readonly number[],
  change: (node: JsonNode) => JsonNode | null,
): JsonNode {
  if (path.length === 0) return change(root) ?? literal('null');
  const [i, ...rest] = path;
  const replaced = rest.length === 0 ? change(children(root)[i]) : update(children(root)[i], rest, change);
  if (root.kind === 'array') {
    const items = root.items.slice();
    if (replaced === null) items.splice(i, 1);
    else items[i] = replaced;
    return { kind: 'array', items };
  }
  if (root.kind === 'object') {
    const entries = root.entries.slice();
    if (replaced === null) entries.splice(i, 1);
    else entries[i] = [entries[i][0], replaced];
    return { kind: 'object', entries };
  }
  return root;
}

/** A path from the root that stops at each level with probability 1/4, so top-level structure is hit often. */
function randomPath(root: JsonNode, random: Random): number[] {
  const path: number[] = [];
  for (let node = root; ;) {
    const next = children(node);
    if (next.length === 0 || (path.length > 0 && chance(random, 0.25))) return path;
    const i = random.int(next.length);
    path.push(i);
    node = next[i];
  }
}

/** Keys that reach Object.prototype when a parser indexes a plain object with them. */
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'length', ''];

const EDGE_LITERALS = [
  'null',
  'true',
  'false',
  '0',
  '-1',
  '1',
  '-0',
  '0.5',
  '1e400',
  '-1e400',
  '1e-400',
  '2147483647',
  '2147483648',
  '4294967295',
  '4294967296',
  '9007199254740991',
  '9007199254740993',
  '18446744073709551615',
  '18446744073709551616',
  '-9223372036854775808',
  '1e21',
  '123456789012345678901234567890',
];

const EDGE_CHARACTERS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202e',
  '\ufeff',
  '\u0301',
  '\u{1d54f}',
  '"',
  '\\',
  ' ',
  '\n',
  '\r',
  '\u2028',
  '\u0130',
  '\u017f',
  '\u00df',
  '\u0085',
];

const EDGE_STRINGS = [
  '',
  ' ',
  'a',
  '\u0000',
  '\ud800',
  'e\u0301',
  '\u{1d54f}',
  '<|endoftext|>',
  '(?',
  '[',
  '\\',
];

/** Nesting depths that overflow a recursive reader's stack (JSON.parse itself is not recursive in V8). */
const DEPTHS = [64, 1_000, 10_000, 100_000];
/**
 * Mutants stay under this many characters: V8's JSON.parse takes about a microsecond per level of nesting, so a
 * megabyte of brackets is already half a second of parsing on its own.
 */
const MAX_TEXT = 1_000_000;

/** A parsed seed and what its mutants draw on: its subtrees, keys, strings and numbers. */
export class JsonMutator {
  private readonly nodes: JsonNode[] = [];
  private readonly keys = new Set<string>(PROTOTYPE_KEYS);
  private readonly strings: string[] = [];
  private readonly numbers: number[] = [];

  constructor(readonly root: JsonNode) {
    const stack = [root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      this.nodes.push(node);
      if (node.kind === 'string') this.strings.push(node.value);
      else if (node.kind === 'literal' && Number.isFinite(Number(node.text)))
        this.numbers.push(Number(node.text));
      // Keys of small objects are the schema's; large ones (a vocabulary) would drown them.
      else if (node.kind === 'object' && node.entries.length <= 32)
        for (const [k] of node.entries) this.keys.add(k);
      stack.push(...children(node));
    }
  }

  /** A serialized mutant made of one to three mutations (fewer when the next would make it too long). */
  mutate(random: Random): string {
    let root = this.root;
    let text = serializeJson(root);
    for (let i = 1 + random.int(3); i > 0; i--) {
      const next = this.mutateOnce(root, random);
      const nextText = serializeJson(next);
      if (nextText.length > MAX_TEXT) break;
      [root, text] = [next, nextText];
    }
    return text;
  }

  private mutateOnce(root: JsonNode, random: Random): JsonNode {
    const path = randomPath(root, random);
    const node = nodeAt(root, path);
    const choice = random.int(10);
    if (choice === 0 && path.length > 0) return this.nestInItself(root, path, random);
    if (choice === 1 && path.length > 0) return update(root, path, () => null);
    if (choice <= 4) return update(root, path, () => this.value(random));
    if (node.kind === 'array') return update(root, path, () => this.mutateArray(node.items, random));
    if (node.kind === 'object') return update(root, path, () => this.mutateObject(node.entries, random));
    if (node.kind === 'string')
      return update(root, path, () => string(this.mutateString(node.value, random)));
    return update(root, path, () => literal(this.mutateLiteral(node.text, random)));
  }

  /** A replacement value: an edge case, a subtree of the seed (likely the wrong one here), or a wrapper. */
  private value(random: Random): JsonNode {
    switch (random.int(6)) {
      case 0:
      case 1:
        return literal(pick(random, EDGE_LITERALS));
      case 2:
        return string(chance(random, 0.5) ? pick(random, EDGE_STRINGS) : (pick(random, this.strings) ?? ''));
      case 3:
        return pick(random, this.nodes);
      case 4: {
        const depth = pick(random, DEPTHS);
        return literal(
          chance(random, 0.5)
            ? '['.repeat(depth) + ']'.repeat(depth)
            : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
        );
      }
      default:
        return chance(random, 0.5)
          ? { kind: 'array', items: chance(random, 0.5) ? [] : [pick(random, this.nodes)] }
          : {
              kind: 'object',
              entries: chance(random, 0.5) ? [] : [[this.key(random), pick(random, this.nodes)]],
            };
    }
  }

  private key(random: Random): string {
    return pick(random, [...this.keys]);
  }

  /**
   * The structure around the node (one to three levels up) nested inside itself at the node's place, thousands
   * deep: a Sequence inside a Sequence inside a Sequence…, which only a recursive reader chokes on.
   */
  private nestInItself(root: JsonNode, path: number[], random: Random): JsonNode {
    const up = 1 + random.int(Math.min(3, path.length));
    const outerPath = path.slice(0, path.length - up);
    const hole = '\u0001hole\u0001'; // control characters never appear raw in serialized JSON
    const outer = serializeJson(
      update(nodeAt(root, outerPath), path.slice(outerPath.length), () => literal(hole)),
    );
    const [prefix, suffix] = outer.split(hole);
    const depth = Math.min(pick(random, DEPTHS), Math.floor(MAX_TEXT / Math.max(1, outer.length)));
    if (depth < 2) return update(root, path, () => this.value(random));
    const nested = prefix.repeat(depth) + serializeJson(nodeAt(root, path)) + suffix.repeat(depth);
    return update(root, outerPath, () => literal(nested));
  }

  private mutateArray(items: JsonNode[], random: Random): JsonNode {
    const out = items.slice();
    const i = random.int(Math.max(1, out.length));
    switch (random.int(6)) {
      case 0:
        if (out.length > 0) out.splice(i, 0, out[i]);
        break;
      case 1: {
        // One element repeated until the array is large.
        const times = pick(random, [10, 1_000, 100_000]);
        const item = out[i] ?? this.value(random);
        const text = serializeJson(item);
        const copies = Math.min(times, Math.floor(MAX_TEXT / (text.length + 1)));
        return literal(`[${Array(copies).fill(text).join(',')}]`);
      }
      case 2:
        out.length = random.int(out.length + 1);
        break;
      case 3:
        if (out.length > 1) [out[i], out[0]] = [out[0], out[i]];
        else out.reverse();
        break;
      case 4:
        out.splice(i, 0, this.value(random));
        break;
      default:
        return { kind: 'array', items: [] };
    }
    return { kind: 'array', items: out };
  }

  private mutateObject(entries: [string, JsonNode][], random: Random): JsonNode {
    const out = entries.slice();
    const i = random.int(Math.max(1, out.length));
    switch (random.int(6)) {
      case 0:
        // The same key twice (JSON.parse keeps the last), with the old value or another.
        if (out.length > 0)
          out.splice(i + 1, 0, [out[i][0], chance(random, 0.5) ? out[i][1] : this.value(random)]);
        break;
      case 1:
        out.splice(i, 0, [
          this.key(random),
          chance(random, 0.5) ? pick(random, this.nodes) : this.value(random),
        ]);
        break;
      case 2:
        if (out.length > 0)
          out[i] = [chance(random, 0.5) ? this.key(random) : this.mutateString(out[i][0], random), out[i][1]];
        break;
      case 3:
        if (out.length > 1) [out[i], out[0]] = [out[0], out[i]];
        break;
      case 4:
        out.splice(i, 1);
        break;
      default:
        return { kind: 'object', entries: [] };
    }
    return { kind: 'object', entries: out };
  }

  private mutateString(value: string, random: Random): string {
    const at = random.int(value.length + 1);
    switch (random.int(7)) {
      case 0:
        return value.slice(0, at);
      case 1:
        return value.slice(0, at) + pick(random, EDGE_CHARACTERS) + value.slice(at);
      case 2:
        return value.repeat(
          Math.min(pick(random, [2, 100, 10_000]), Math.floor(MAX_TEXT / (value.length + 1))),
        );
      case 3:
        return value.normalize(pick(random, ['NFD', 'NFKC'] as const));
      case 4:
        return value.toUpperCase();
      case 5:
        return pick(random, this.strings) ?? value;
      default:
        return pick(random, EDGE_STRINGS);
    }
  }

  private mutateLiteral(text: string, random: Random): string {
    const n = Number(text);
    if (!Number.isFinite(n)) return pick(random, EDGE_LITERALS);
    const other = pick(random, this.numbers) ?? 0;
    return String(
      pick(random, [
        n + 1,
        n - 1,
        -n,
        n * 2,
        n * 65_536,
        n + 0.5,
        other + 1,
        other - 1,
        2 ** random.int(65),
        2 ** random.int(65) - 1,
      ]),
    );
  }
}
