// The pipeline's settings in one typed place: defaults, and validation of partial settings from code, a JSON
// config file or CLI flags. Unknown keys and out-of-range values are rejected with the key's full path.
import { DataError } from './errors.ts';
import { defaultFilterOptions, type FilterOptions } from './filters.ts';
import { knownLanguages } from './language.ts';

/** Exact duplicates (same normalized text) are always removed: the text hash is also the document id. */
export interface DedupOptions {
  /** Drop near duplicates (MinHash LSH). */
  near: boolean;
  /** Jaccard similarity of word-shingle sets at or above which two documents are near duplicates. */
  threshold: number;
  /** MinHash signature length; more is more accurate (error ≈ √(J(1−J)/permutations)) and slower. */
  permutations: number;
  /** Words per shingle. */
  shingleSize: number;
  /** Seed of the MinHash functions. */
  seed: number;
  /** Which document of a near-duplicate cluster stays. */
  keep: 'first' | 'longest';
}

export interface PiiOptions {
  /** Replace e-mail addresses, phone numbers, IPs, card numbers, IBANs and SSNs with placeholders. */
  scrub: boolean;
}

export interface SplitOptions {
  /** Share of documents (chosen by content hash, so stable across runs) that go to validation.jsonl. */
  validationFraction: number;
}

export interface CorpusConfig {
  filters: FilterOptions;
  dedup: DedupOptions;
  pii: PiiOptions;
  split: SplitOptions;
}

/** Any subset of the settings; what is left out takes the default. */
export type CorpusConfigInput = { [K in keyof CorpusConfig]?: Partial<CorpusConfig[K]> };

export const defaultCorpusConfig: CorpusConfig = {
  filters: defaultFilterOptions,
  // 0.8 on 5-word shingles with 128 permutations (14 bands × 9 rows, see lshParameters) is the common setting
  // for web text (GPT-3, The Pile and datatrove use 0.7–0.8 on 5-grams).
  dedup: { near: true, threshold: 0.8, permutations: 128, shingleSize: 5, seed: 1, keep: 'first' },
  pii: { scrub: true },
  split: { validationFraction: 0.02 },
};

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function fail(where: string, message: string): never {
  throw new DataError('options-invalid', `${where}: ${message}`);
}

/** Merges `input` over `defaults`, requiring known keys and the defaults' value types. */
function merge<T extends object>(defaults: T, input: unknown, path: string, where: string): T {
  if (input === undefined) return structuredClone(defaults);
  if (typeName(input) !== 'object') fail(where, `${path} must be an object, got ${typeName(input)}`);
  const out = structuredClone(defaults) as Record<string, unknown>;
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (!(key in out)) fail(where, `unknown setting ${path}.${key}; known: ${Object.keys(out).join(', ')}`);
    const expected = typeName(out[key]);
    if (value === undefined) continue;
    if (typeName(value) !== expected)
      fail(
        where,
        `${path}.${key} must be ${expected === 'array' ? 'an array' : `a ${expected}`}, got ${typeName(value)}`,
      );
    out[key] = value;
  }
  return out as T;
}

function check(where: string, ok: boolean, path: string, requirement: string, value: unknown): void {
  if (!ok) fail(where, `${path} must be ${requirement}, got ${JSON.stringify(value)}`);
}

const isFraction = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1;

/** Returns the full configuration for `input` (a `CorpusConfigInput`), or throws a DataError naming the bad key. */
export function resolveCorpusConfig(input: unknown = {}, where = 'options'): CorpusConfig {
  if (typeName(input) !== 'object') fail(where, `settings must be an object, got ${typeName(input)}`);
  const sections = input as Record<string, unknown>;
  for (const key of Object.keys(sections)) {
    if (!(key in defaultCorpusConfig))
      fail(where, `unknown setting ${key}; known: ${Object.keys(defaultCorpusConfig).join(', ')}`);
  }
  const config: CorpusConfig = {
    filters: merge(defaultCorpusConfig.filters, sections.filters, 'filters', where),
    dedup: merge(defaultCorpusConfig.dedup, sections.dedup, 'dedup', where),
    pii: merge(defaultCorpusConfig.pii, sections.pii, 'pii', where),
    split: merge(defaultCorpusConfig.split, sections.split, 'split', where),
  };
  const f = config.filters;
  check(
    where,
    Number.isInteger(f.minWords) && f.minWords >= 0,
    'filters.minWords',
    'a whole number ≥ 0',
    f.minWords,
  );
  check(
    where,
    Number.isInteger(f.maxWords) && f.maxWords >= f.minWords,
    'filters.maxWords',
    'a whole number ≥ minWords',
    f.maxWords,
  );
  for (const key of [
    'minLetterWordFraction',
    'maxDuplicateLineFraction',
    'maxDuplicateLineCharFraction',
    'maxDuplicateParagraphFraction',
    'maxDuplicateParagraphCharFraction',
  ] as const) {
    check(where, isFraction(f[key]), `filters.${key}`, 'a number from 0 to 1', f[key]);
  }
  for (const key of ['maxTopNgramCharFraction', 'maxDuplicateNgramCharFraction'] as const) {
    for (const [n, max] of Object.entries(f[key] as Record<string, unknown>)) {
      check(
        where,
        /^\d+$/.test(n) && Number(n) >= 1 && Number(n) <= 50,
        `filters.${key} key`,
        'an n-gram size from 1 to 50',
        n,
      );
      check(
        where,
        typeof max === 'number' && isFraction(max),
        `filters.${key}.${n}`,
        'a number from 0 to 1',
        max,
      );
    }
  }
  const languages = new Set([...knownLanguages, 'unknown']);
  for (const language of f.languages) {
    check(
      where,
      languages.has(language),
      'filters.languages entry',
      `one of ${[...languages].join(', ')}`,
      language,
    );
  }
  for (const pattern of f.rejectPatterns) {
    check(where, typeof pattern === 'string', 'filters.rejectPatterns entry', 'a string', pattern);
    try {
      new RegExp(pattern, 'mu');
    } catch (error) {
      fail(
        where,
        `filters.rejectPatterns: /${pattern}/ is not a valid regular expression (${(error as Error).message})`,
      );
    }
  }
  const d = config.dedup;
  check(where, d.threshold > 0 && d.threshold <= 1, 'dedup.threshold', 'a number in (0, 1]', d.threshold);
  check(
    where,
    Number.isInteger(d.permutations) && d.permutations >= 2 && d.permutations <= 1024,
    'dedup.permutations',
    'a whole number from 2 to 1024',
    d.permutations,
  );
  check(
    where,
    Number.isInteger(d.shingleSize) && d.shingleSize >= 1 && d.shingleSize <= 64,
    'dedup.shingleSize',
    'a whole number from 1 to 64',
    d.shingleSize,
  );
  check(
    where,
    Number.isInteger(d.seed) && d.seed >= 0 && d.seed <= 0xffffffff,
    'dedup.seed',
    'a whole number from 0 to 4294967295',
    d.seed,
  );
  check(where, d.keep === 'first' || d.keep === 'longest', 'dedup.keep', '"first" or "longest"', d.keep);
  const v = config.split.validationFraction;
  check(
    where,
    Number.isFinite(v) && v >= 0 && v < 1,
    'split.validationFraction',
    'a number from 0 to below 1',
    v,
  );
  return config;
}
