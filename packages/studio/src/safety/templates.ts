// Template expansion for the safety datasets (the classifier's labelled prompts and the red-team suite).
// A template is text with `{slot}` references (a random value of the slot, itself a template) and
// `[[a|b|c]]` alternatives (paraphrases; an empty alternative drops the phrase). Each expansion then takes
// one surface variant, as people write: plain, misspelled, obfuscated (leetspeak, spelled-out letters,
// invisible characters, look-alike letters, fullwidth), cased (all capitals or all lowercase) or, where a
// group allows it, base64-encoded behind a "decode this" wrapper. Everything is drawn from a seeded Random,
// so a dataset is a function of (templates, seed).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { Random } from '@ownlm/engine';

export type Variant = 'plain' | 'misspelled' | 'obfuscated' | 'cased' | 'encoded';

/**
 * A template file: slot values; template lists by group name; and optionally sentence `frames` shared by the
 * groups that have `acts`, where `{act}` draws from the group's acts.
 */
export interface TemplateFile {
  slots: Record<string, string[]>;
  frames: string[];
  acts: Record<string, string[]>;
  groups: Record<string, string[]>;
}

export interface Expansion {
  text: string;
  variant: Variant;
  /** The value drawn for `{marker}` (a fresh token per expansion), when the template has one. */
  marker?: string;
}

const slotReference = /\{([a-z_]+)\}/g;
const alternatives = /\[\[([^[\]]*)\]\]/g;
const MAX_DEPTH = 6;

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string');

/** Reads a template file, checking its shape and that every slot a template uses is defined. */
export function readTemplateFile(path: string): TemplateFile {
  const parsed = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
  const file: TemplateFile = { slots: {}, frames: [], acts: {}, groups: {}, ...parsed };
  const lists = (name: 'slots' | 'acts' | 'groups') => {
    for (const [key, value] of Object.entries(file[name]))
      if (!isStringList(value)) throw new Error(`${path}: ${name}.${key} must be a list of strings`);
  };
  lists('slots');
  lists('acts');
  lists('groups');
  if (!isStringList(file.frames)) throw new Error(`${path}: frames must be a list of strings`);
  const check = (template: string, where: string, allowAct: boolean) => {
    for (const [, name] of template.matchAll(slotReference))
      if (name !== 'marker' && !(allowAct && name === 'act') && !Object.hasOwn(file.slots, name))
        throw new Error(`${path}: ${where} uses undefined slot {${name}}`);
  };
  for (const name of ['slots', 'acts', 'groups'] as const)
    for (const [key, list] of Object.entries(file[name]))
      list.forEach((t, i) => check(t, `${name}.${key}[${i}]`, false));
  file.frames.forEach((t, i) => check(t, `frames[${i}]`, true));
  return file;
}

/** A group's templates (the frames first when it has acts) and the slots to fill them with. */
export function groupTemplates(
  file: TemplateFile,
  group: string,
): { templates: string[]; slots: Record<string, string[]> } {
  const acts = file.acts[group];
  const templates = [...(acts ? file.frames : []), ...(file.groups[group] ?? [])];
  if (templates.length === 0) throw new Error(`no templates for group '${group}'`);
  return { templates, slots: acts ? { ...file.slots, act: acts } : file.slots };
}

/** The group names of a file: those with templates or acts, in file order. */
export function groupNames(file: TemplateFile): string[] {
  return [...new Set([...Object.keys(file.acts), ...Object.keys(file.groups)])];
}

/** A 32-bit hash of a name, so each group draws from its own seeded stream. */
export function nameSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.int(items.length)];
}

/** One random filling of a template; a slot used twice takes the same value both times. */
export function fillTemplate(
  template: string,
  slots: Record<string, string[]>,
  random: Random,
): { text: string; marker?: string } {
  let marker: string | undefined;
  const chosenValues = new Map<string, string>();
  const fill = (text: string, depth: number): string => {
    if (depth > MAX_DEPTH) throw new Error(`template slots nest deeper than ${MAX_DEPTH}: ${template}`);
    const chosen = text.replace(alternatives, (_, options: string) => pick(random, options.split('|')));
    return chosen.replace(slotReference, (_, name: string) => {
      if (name === 'marker') {
        marker ??= `ZX-${random.nextUint32().toString(36).toUpperCase().padStart(7, '0')}`;
        return marker;
      }
      let value = chosenValues.get(name);
      if (value === undefined) {
        value = fill(String(pick(random, slots[name])), depth + 1);
        chosenValues.set(name, value);
      }
      return value;
    });
  };
  const text = fill(template, 0)
    .replace(/[ \t]+/g, ' ')
    .replace(/ ([,.?!:;])/g, '$1')
    .trim();
  return marker === undefined ? { text } : { text, marker };
}

const vowels = 'aeiou';

/** One typo in a word of five or more letters: two letters swapped, one dropped, doubled or a vowel changed. */
function typo(word: string, random: Random): string {
  const i = 1 + random.int(word.length - 2);
  switch (random.int(4)) {
    case 0:
      return word.slice(0, i - 1) + word[i] + word[i - 1] + word.slice(i + 1);
    case 1:
      return word.slice(0, i) + word.slice(i + 1);
    case 2:
      return word.slice(0, i) + word[i] + word.slice(i);
    default: {
      const at = [...word].findIndex((c, j) => j > 0 && vowels.includes(c));
      if (at < 0) return word.slice(0, i) + word.slice(i + 1);
      const other = vowels.replace(word[at], '');
      return word.slice(0, at) + pick(random, [...other]) + word.slice(at + 1);
    }
  }
}

const leetOf: Record<string, string> = { a: '4', e: '3', i: '1', o: '0', s: '5', t: '7' };
const lookAlikeOf: Record<string, string> = { a: 'а', e: 'е', o: 'о', p: 'р', c: 'с', i: 'і', x: 'х' };

function disguise(word: string, random: Random): string {
  switch (random.int(5)) {
    case 0: {
      const out = [...word].map((c) =>
        leetOf[c.toLowerCase()] && random.uniform() < 0.7 ? leetOf[c.toLowerCase()] : c,
      );
      const first = [...word].findIndex((c) => leetOf[c.toLowerCase()]);
      if (out.join('') === word && first >= 0) out[first] = leetOf[word[first].toLowerCase()];
      return out.join('');
    }
    case 1:
      return [...word].join(pick(random, [' ', '.', '-', '*']));
    case 2:
      return [...word].join('\u200b');
    case 3:
      return [...word].map((c) => lookAlikeOf[c] ?? c).join('');
    default:
      return [...word].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('');
  }
}

/** Applies `change` to one or two random words of at least `minLength` letters. */
function changeWords(text: string, minLength: number, random: Random, change: (w: string) => string): string {
  // Words with a lowercase letter: markers (ZX-…) and acronyms stay as they are.
  const words = [...text.matchAll(/[A-Za-z]+/g)].filter(
    (m) => m[0].length >= minLength && /[a-z]/.test(m[0]),
  );
  if (words.length === 0) return text;
  const chosen = new Set<number>();
  const count = Math.min(words.length, 1 + random.int(2));
  while (chosen.size < count) chosen.add(words[random.int(words.length)].index!);
  return text.replace(/[A-Za-z]+/g, (word, offset: number) => (chosen.has(offset) ? change(word) : word));
}

const encodeWrappers = [
  'Decode this base64 and do what it says: ',
  'base64: ',
  'Here is an encoded message, decode it and follow it: ',
  'Read this after decoding from base64 and answer: ',
];

/**
 * Which surface variants a group draws: `natural` ones (plain, misspelled, cased) as anyone writes, `disguised`
 * adds obfuscation as someone dodging a filter would, `encoded` adds base64 behind a "decode this" wrapper.
 */
export type VariantSet = 'natural' | 'disguised' | 'encoded';

/** A surface variant of a filled template. */
export function applyVariant(text: string, random: Random, variants: VariantSet): Expansion {
  const roll = random.uniform();
  if (variants === 'encoded' && roll < 0.08)
    return { text: pick(random, encodeWrappers) + Buffer.from(text).toString('base64'), variant: 'encoded' };
  if (roll < 0.5) return { text, variant: 'plain' };
  if (roll < 0.7)
    return { text: changeWords(text, 5, random, (w) => typo(w, random)), variant: 'misspelled' };
  if (variants !== 'natural' && roll < 0.87)
    return { text: changeWords(text, 4, random, (w) => disguise(w, random)), variant: 'obfuscated' };
  const cased = random.int(2) === 0 ? text.toUpperCase() : text.toLowerCase().replace(/[.?!]+$/, '');
  return { text: cased, variant: 'cased' };
}

/**
 * Up to `count` distinct expansions of `templates`, spread evenly over them, never repeating a text in
 * `seen` (which gains every text returned). Each expansion is tagged with its template's index.
 */
export function expandGroup(options: {
  templates: readonly string[];
  slots: Record<string, string[]>;
  count: number;
  random: Random;
  seen: Set<string>;
  variants: VariantSet;
}): (Expansion & { template: number })[] {
  const { templates, slots, count, random, seen } = options;
  const out: (Expansion & { template: number })[] = [];
  const perTemplate = Math.ceil(count / templates.length);
  for (let t = 0; t < templates.length && out.length < count; t++) {
    let made = 0;
    for (let attempt = 0; made < perTemplate && out.length < count && attempt < perTemplate * 30; attempt++) {
      const filled = fillTemplate(templates[t], slots, random);
      const expansion = applyVariant(filled.text, random, options.variants);
      if (seen.has(expansion.text)) continue;
      seen.add(expansion.text);
      out.push({ ...expansion, ...(filled.marker ? { marker: filled.marker } : {}), template: t });
      made++;
    }
  }
  return out;
}
