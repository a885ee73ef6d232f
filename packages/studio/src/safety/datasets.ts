// The two datasets the safety package ships, generated from the templates under templates/ and written as
// JSONL under data/: the classifier's labelled prompts (a train file and a held-out file, split by template)
// and the red-team suite (attacks per category and benign look-alikes). Both are functions of the templates
// and a seed; `ownlm safety generate-data` rewrites them and a test checks the shipped files are its output.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '@ownlm/engine';
import { DataError } from '../data/errors.ts';
import {
  isClassifierLabel,
  isModerationCategory,
  type ClassifierLabel,
  type ModerationCategory,
} from './categories.ts';
import {
  expandGroup,
  groupNames,
  groupTemplates,
  nameSeed,
  readTemplateFile,
  type Variant,
  type VariantSet,
} from './templates.ts';

/** Where the shipped data (datasets, classifier weights) lives. */
export const safetyDataDir = fileURLToPath(new URL('./data/', import.meta.url));
const templatesDir = fileURLToPath(new URL('./templates/', import.meta.url));

export const safetyDataFiles = {
  classifierTrain: 'classifier-train.jsonl',
  classifierHeldOut: 'classifier-heldout.jsonl',
  redteam: 'redteam.jsonl',
} as const;

/** The seed the shipped files were generated with. */
export const SHIPPED_DATA_SEED = 0;

export interface LabelledExample {
  text: string;
  label: ClassifierLabel;
  /** For a benign example: the label it was written to resemble (absent for everyday requests). */
  lookalike?: ClassifierLabel;
  /** `label/index` or `benign/lookalike/index` of the template it came from. */
  template: string;
  variant: Variant;
}

export const redteamCategories = [
  'jailbreak',
  'injection',
  'pii-extraction',
  'system-prompt-extraction',
  'harmful',
] as const;

export type RedteamCategory = (typeof redteamCategories)[number];

export interface RedteamPrompt {
  id: string;
  category: RedteamCategory;
  /** An attack, or a benign look-alike of the category's attacks that a filter should let through. */
  kind: 'attack' | 'benign';
  prompt: string;
  /** For harmful attacks: the moderation category the request belongs to. */
  harm?: ModerationCategory;
  /** For injections: the token an answer contains when the model obeyed the injected instruction. */
  marker?: string;
}

/** Labels whose examples may come base64-encoded, as smuggled instructions do. */
const encodedLabels = new Set<ClassifierLabel>(['jailbreak', 'prompt_injection']);

/** Every fourth template of a list is held out, so held-out figures measure phrasings never trained on. */
const isHeldOutTemplate = (index: number) => index % 4 === 3;

export interface ClassifierDatasetOptions {
  seed?: number;
  /** Examples per harmful label (default 480). */
  perLabel?: number;
  /** Benign look-alikes per label (default 160). */
  perLookalike?: number;
  /** Everyday benign requests (default 600). */
  general?: number;
}

/** The classifier's labelled prompts, split into train and held-out by template. */
export function generateClassifierDataset(options: ClassifierDatasetOptions = {}): {
  train: LabelledExample[];
  heldOut: LabelledExample[];
} {
  const seed = options.seed ?? SHIPPED_DATA_SEED;
  const file = readTemplateFile(join(templatesDir, 'classifier.yaml'));
  const seen = new Set<string>();
  const train: LabelledExample[] = [];
  const heldOut: LabelledExample[] = [];
  for (const group of groupNames(file)) {
    const [first, lookalike] = group.split('/');
    const label = lookalike === undefined ? first : 'benign';
    if (!isClassifierLabel(label) || (label === 'benign' && first !== 'benign'))
      throw new Error(`classifier.yaml: group '${group}' is neither a label nor benign/<label>`);
    if (lookalike !== undefined && lookalike !== 'general' && !isClassifierLabel(lookalike))
      throw new Error(`classifier.yaml: group '${group}' resembles no label`);
    const count =
      label !== 'benign'
        ? (options.perLabel ?? 480)
        : lookalike === 'general'
          ? (options.general ?? 600)
          : (options.perLookalike ?? 160);
    const { templates, slots } = groupTemplates(file, group);
    const random = new Random(nameSeed(seed, group));
    const variants = encodedLabels.has(label) ? 'encoded' : 'disguised';
    for (const e of expandGroup({ templates, slots, count, random, seen, variants })) {
      const example: LabelledExample = {
        text: e.text,
        label,
        ...(lookalike && lookalike !== 'general' ? { lookalike: lookalike as ClassifierLabel } : {}),
        template: `${group}/${e.template}`,
        variant: e.variant,
      };
      (isHeldOutTemplate(e.template) ? heldOut : train).push(example);
    }
  }
  return { train, heldOut };
}

export interface RedteamSuiteOptions {
  seed?: number;
  /** Attacks per category and benign look-alikes per category (default 64 each). */
  perCategory?: number;
}

/** The red-team suite: attacks and benign look-alikes for each category. */
export function generateRedteamSuite(options: RedteamSuiteOptions = {}): RedteamPrompt[] {
  const seed = options.seed ?? SHIPPED_DATA_SEED;
  const count = options.perCategory ?? 64;
  const file = readTemplateFile(join(templatesDir, 'redteam.yaml'));
  const seen = new Set<string>();
  const prompts: RedteamPrompt[] = [];
  // Attacks come disguised (jailbreaks and injections also encoded) as attackers write them; benign prompts
  // come as anyone writes them.
  const expand = (group: string, n: number, variants: VariantSet) =>
    expandGroup({
      ...groupTemplates(file, group),
      count: n,
      random: new Random(nameSeed(seed, group)),
      seen,
      variants,
    });
  for (const category of redteamCategories) {
    const id = (kind: string) => `${category}-${kind}-${String(prompts.length + 1).padStart(4, '0')}`;
    const variants: VariantSet =
      category === 'jailbreak' || category === 'injection' ? 'encoded' : 'disguised';
    // Harmful requests come in moderation categories (`harmful/violence`…), sharing the count by template.
    const harms = groupNames(file).filter((g) => g.startsWith(`${category}/`));
    const parts = harms.length > 0 ? harms : [category];
    const total = parts.reduce((n, g) => n + groupTemplates(file, g).templates.length, 0);
    let given = 0;
    parts.forEach((group, i) => {
      const share =
        i === parts.length - 1
          ? count - given
          : Math.round((count * groupTemplates(file, group).templates.length) / total);
      given += share;
      const harm = group.split('/')[1];
      if (harm !== undefined && !isModerationCategory(harm))
        throw new Error(`redteam.yaml: group '${group}' names no moderation category`);
      for (const e of expand(group, share, variants))
        prompts.push({
          id: id('attack'),
          category,
          kind: 'attack',
          prompt: e.text,
          ...(harm ? { harm } : {}),
          ...(e.marker ? { marker: e.marker } : {}),
        });
    });
    for (const e of expand(`benign/${category}`, count, 'natural'))
      prompts.push({ id: id('benign'), category, kind: 'benign', prompt: e.text });
  }
  return prompts;
}

/** JSONL text of records, one compact JSON object per line. */
export function toJsonl(records: readonly object[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** Writes the classifier dataset and the red-team suite into `dir` (the shipped data folder by default). */
export function writeSafetyDatasets(
  dir = safetyDataDir,
  seed = SHIPPED_DATA_SEED,
): {
  train: number;
  heldOut: number;
  redteam: number;
} {
  const { train, heldOut } = generateClassifierDataset({ seed });
  const suite = generateRedteamSuite({ seed });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, safetyDataFiles.classifierTrain), toJsonl(train));
  writeFileSync(join(dir, safetyDataFiles.classifierHeldOut), toJsonl(heldOut));
  writeFileSync(join(dir, safetyDataFiles.redteam), toJsonl(suite));
  return { train: train.length, heldOut: heldOut.length, redteam: suite.length };
}

/** Parses a JSONL file, each line's object checked by `check`, which names the field at fault. */
function readJsonl<T>(path: string, check: (record: Record<string, unknown>) => string | null): T[] {
  const out: T[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${path}:${i + 1}`;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (error) {
        throw new DataError('input-invalid', `${where}: invalid JSON: ${(error as Error).message}`);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record))
        throw new DataError('input-invalid', `${where}: each line must be a JSON object`);
      const problem = check(record as Record<string, unknown>);
      if (problem) throw new DataError('input-invalid', `${where}: ${problem}`);
      out.push(record as T);
    });
  return out;
}

const text = (r: Record<string, unknown>, field: string) =>
  typeof r[field] === 'string' && r[field] !== '' ? null : `${field}: must be a non-empty string`;

/** Reads labelled examples (`{"text", "label", …}` per line), e.g. the shipped classifier files. */
export function readLabelledExamples(path: string): LabelledExample[] {
  return readJsonl<LabelledExample>(
    path,
    (r) =>
      text(r, 'text') ??
      (isClassifierLabel(r.label) ? null : `label: unknown label ${JSON.stringify(r.label)}`),
  );
}

/** Reads a red-team suite (`{"id", "category", "kind", "prompt", …}` per line). */
export function readRedteamSuite(path = join(safetyDataDir, safetyDataFiles.redteam)): RedteamPrompt[] {
  return readJsonl<RedteamPrompt>(
    path,
    (r) =>
      text(r, 'id') ??
      text(r, 'prompt') ??
      ((redteamCategories as readonly unknown[]).includes(r.category)
        ? null
        : `category: must be one of ${redteamCategories.join(', ')}`) ??
      (r.kind === 'attack' || r.kind === 'benign' ? null : 'kind: must be "attack" or "benign"'),
  );
}
