// Mutation of conversation JSONL files (docs/FORMATS.md#conversation-datasets): lines mutated as JSON, lines
// repeated, dropped, swapped, joined and split, lines of the other formats mixed in, lines that are not
// objects, blank lines, CRLF endings, byte-order marks, and byte-level damage at line boundaries.
import type { Random } from '@ownlm/engine';
import { chance, mutateBytes, pick, type Field } from './bytes.ts';
import { JsonMutator, toJsonNode } from './json-mutator.ts';

const NOT_OBJECTS = ['[]', '"text"', '1', 'null', 'true', '[{"messages":[]}]', '{', '}'];

export class JsonlMutator {
  private readonly lines: string[];
  private readonly mutators: (JsonMutator | null)[];

  /** `others`: lines of seeds in other formats, mixed in as one file should not hold. */
  constructor(
    bytes: Uint8Array,
    private readonly others: readonly string[],
  ) {
    this.lines = new TextDecoder().decode(bytes).split('\n');
    this.mutators = this.lines.map((line) =>
      line.trim() === '' ? null : new JsonMutator(toJsonNode(JSON.parse(line))),
    );
  }

  mutate(random: Random): Uint8Array {
    const lines = this.lines.slice();
    for (let n = 1 + random.int(3); n > 0; n--) {
      if (lines.length === 0) lines.push('');
      const i = random.int(lines.length);
      switch (random.int(12)) {
        case 0:
        case 1:
        case 2:
        case 3: {
          const mutator = this.mutators[random.int(this.mutators.length)];
          if (mutator) lines[i] = mutator.mutate(random);
          break;
        }
        case 4:
          lines.splice(i, 0, lines[i]);
          break;
        case 5:
          lines.splice(i, 1);
          break;
        case 6:
          [lines[i], lines[0]] = [lines[0], lines[i]];
          break;
        case 7:
          lines.splice(i, 2, (lines[i] ?? '') + (lines[i + 1] ?? ''));
          break;
        case 8: {
          const at = random.int(lines[i].length + 1);
          lines.splice(i, 1, lines[i].slice(0, at), lines[i].slice(at));
          break;
        }
        case 9:
          lines.splice(i, 0, pick(random, ['', ' ', '\t', '\r', '\u00a0', '\ufeff']));
          break;
        case 10:
          lines.splice(i, 0, this.others.length > 0 ? pick(random, this.others) : '{}');
          break;
        default:
          lines.splice(i, 0, pick(random, NOT_OBJECTS));
      }
    }
    const text = (chance(random, 0.05) ? '\ufeff' : '') + lines.join(chance(random, 0.1) ? '\r\n' : '\n');
    const bytes = Buffer.from(text, 'utf8');
    if (!chance(random, 0.2)) return bytes;
    const fields: Field[] = [];
    for (let at = 0, i = 0; i < lines.length; i++) {
      fields.push({ offset: at, size: Buffer.byteLength(lines[i]), kind: 'bytes' });
      at += Buffer.byteLength(lines[i]) + 1;
    }
    return mutateBytes(bytes, fields, random);
  }
}
