// Flat, typed config tables. Each key of a table says its kind, default, rule and help in one place; the rest
// is derived from it: the defaults, validation of a config from a file, flags or API parameters (unknown keys
// rejected, every error naming the key and where it came from), parsing of flag text, and the --help lines of
// the `ownlm` commands. The pretraining and fine-tune configs are such tables; so are the commands' options.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type ConfigErrorCode =
  /** A config file that cannot be read, or is not YAML or JSON. */
  | 'unreadable'
  /** A key or flag the table does not have. */
  | 'unknown-key'
  /** A value of the wrong kind, or outside its rule. */
  | 'invalid-value'
  /** A required key that nothing set. */
  | 'missing-key'
  /** Values that are fine alone but not together, or do not fit the model or the data they are used with. */
  | 'conflict'
  /** A run that would need more memory than the machine has. */
  | 'exceeds-memory'
  /** A resumed run whose settings or weights differ from the checkpoint's. */
  | 'resume-mismatch';

/** A configuration (file, flags, API parameters, environment) that cannot be used; the message says the fix. */
export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    /** The key or flag at fault, when one is. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type SettingKind =
  'string' | 'integer' | 'number' | 'boolean' | 'strings' | 'optional-integer' | 'optional-number';

/**
 * What a rule asks in JSON Schema's words, where JSON Schema can say it. A setting's schema in the API carries it
 * (GET /api/job-types), so a form offers the limits the config checks.
 */
export interface RuleSchema {
  minimum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  /** The values a string, or each string of a list, may take. */
  enum?: readonly string[];
  minItems?: number;
  uniqueItems?: boolean;
}

/**
 * A requirement checked after the kind (never on null), with the words an error uses for it and, for a rule
 * made by `schemaRule`, the JSON Schema it checks.
 */
export type Rule<T> = readonly [(value: T) => boolean, string, RuleSchema?];

function satisfies(schema: RuleSchema, value: unknown): boolean {
  if (typeof value === 'number')
    return (
      (schema.minimum === undefined || value >= schema.minimum) &&
      (schema.exclusiveMinimum === undefined || value > schema.exclusiveMinimum) &&
      (schema.exclusiveMaximum === undefined || value < schema.exclusiveMaximum)
    );
  const values = schema.enum;
  if (typeof value === 'string') return values === undefined || values.includes(value);
  if (!Array.isArray(value)) return true;
  return (
    (schema.minItems === undefined || value.length >= schema.minItems) &&
    (!schema.uniqueItems || new Set(value).size === value.length) &&
    (values === undefined || value.every((item) => values.includes(item as string)))
  );
}

/** A rule that checks what `schema` says, and carries it for the API's schema of the setting. */
export function schemaRule<T>(schema: RuleSchema, words: string): Rule<T> {
  return [(value) => satisfies(schema, value), words, schema];
}

/** One key of a config table; `Setting` without a type is any key of any table. */
export interface Setting<T = unknown> {
  kind: SettingKind;
  /** What the value is, in a few words (--help; later the API schema's description). */
  help: string;
  /** The value when nothing sets it; a config key without one is required. */
  default?: T;
  /** --help's words for the default when a value cannot say it ("one per core", "the preset's"). */
  defaultHelp?: string;
  /** The value's placeholder in --help (N, DIR, X); derived from the kind when absent. */
  placeholder?: string;
  /** Without a type (a command's options, the generic readers below) any rule fits. */
  rule?: Rule<unknown extends T ? never : NonNullable<T>>;
  /** How a flag's text splits into a list (strings kind; default '|'). */
  separator?: string;
}

/** A flat config of type C: one setting per key, in the order --help and error messages list them. */
export type ConfigTable<C> = { readonly [K in keyof C]-?: Setting<C[K]> };

export const positive = schemaRule<number>({ exclusiveMinimum: 0 }, 'positive');
export const nonNegative = schemaRule<number>({ minimum: 0 }, '≥ 0');
export const unit = schemaRule<number>({ minimum: 0, exclusiveMaximum: 1 }, 'in [0, 1)');

/** A rule that a number is at least `minimum`. */
export const atLeast = (minimum: number) => schemaRule<number>({ minimum }, `≥ ${minimum}`);

/** A rule that the value is one of `values`, worded "a, b or c". */
export function oneOf(values: readonly string[]): Rule<string> {
  const words = values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : values[0];
  return schemaRule({ enum: values }, words);
}

/** The flag of a key: batch_size → --batch-size. */
export function flagName(key: string): string {
  return `--${key.replace(/_/g, '-')}`;
}

const kindWords: Record<SettingKind, string> = {
  string: 'a non-empty string',
  integer: 'an integer',
  number: 'a finite number',
  boolean: 'true or false',
  strings: 'a list of strings',
  'optional-integer': 'an integer or null',
  'optional-number': 'a finite number or null',
};

function hasKind(kind: SettingKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value !== '';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'optional-integer':
      return value === null || hasKind('integer', value);
    case 'optional-number':
      return value === null || hasKind('number', value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'strings':
      return Array.isArray(value) && value.every((s) => typeof s === 'string');
  }
}

/** What a value of `setting` must be when `value` is not one (the kind's words, or the rule's), else null. */
export function mismatch(setting: Setting, value: unknown): string | null {
  if (!hasKind(setting.kind, value)) return kindWords[setting.kind];
  if (value !== null && setting.rule && !setting.rule[0](value as never)) return setting.rule[1];
  return null;
}

/** The typed value of a flag's text; text that is not a number of a numeric kind stays text, for the error. */
export function valueFromText(setting: Setting, text: string): unknown {
  switch (setting.kind) {
    case 'string':
      return text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'strings':
      return text.split(setting.separator ?? '|');
    default: {
      if (setting.kind.startsWith('optional-') && text === 'null') return null;
      const number = Number(text);
      return text.trim() === '' || Number.isNaN(number) ? text : number;
    }
  }
}

function describe(value: unknown): string {
  return value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : `${typeof value} ${JSON.stringify(value)}`;
}

/** A table seen key by key (every key's value is a Setting of that key's type). */
function settingsOf<C>(table: ConfigTable<C>): Record<string, Setting> {
  return table as unknown as Record<string, Setting>;
}

/** The defaults of a table's keys that have one. */
export function defaultsOf<C>(table: ConfigTable<C>): Partial<C> {
  const entries = Object.entries(settingsOf(table)).filter(([, setting]) => setting.default !== undefined);
  return Object.fromEntries(entries.map(([key, setting]) => [key, setting.default])) as Partial<C>;
}

/** Validates a partial config from `where` (a file name, "flags" or "params") over `base`. */
export function mergeSettings<C>(
  table: ConfigTable<C>,
  base: Partial<C>,
  input: unknown,
  where: string,
): Partial<C> {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new ConfigError(
      'invalid-value',
      `${where}: a config must be a mapping of keys to values, got ${describe(input)}`,
    );
  const settings = settingsOf(table);
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input)) {
    if (!(key in settings))
      throw new ConfigError(
        'unknown-key',
        `${where}: unknown key '${key}'; known keys: ${Object.keys(settings).join(', ')}`,
        key,
      );
    const expected = mismatch(settings[key], value);
    if (expected !== null)
      throw new ConfigError(
        'invalid-value',
        `${where}: ${key} must be ${expected}, got ${describe(value)}`,
        key,
      );
    out[key] = value;
  }
  return out as Partial<C>;
}

/** Completes a partial config with the table's defaults; a key without a default is required. */
export function resolveSettings<C>(table: ConfigTable<C>, partial: Partial<C>, where: string): C {
  const config = { ...defaultsOf(table), ...partial } as Record<string, unknown>;
  for (const key of Object.keys(table)) {
    if (config[key] === undefined || config[key] === '')
      throw new ConfigError(
        'missing-key',
        `${where}: '${key}' is required (in the config file or as ${flagName(key)})`,
        key,
      );
  }
  return config as C;
}

/** Reads a YAML (or JSON) config file into a validated partial config. */
export function readSettingsFile<C>(table: ConfigTable<C>, path: string): Partial<C> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('unreadable', `${path}: cannot read the config file (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError('unreadable', `${path}: not valid YAML: ${(error as Error).message}`);
  }
  return mergeSettings(table, {}, parsed ?? {}, path);
}

/** Typed values of `--key value` flag texts (kebab- or snake-case keys), for mergeSettings. */
export function settingsFromFlags<C>(
  table: ConfigTable<C>,
  flags: Record<string, string>,
  command: string,
): Record<string, unknown> {
  const settings = settingsOf(table);
  const out: Record<string, unknown> = {};
  for (const [flag, text] of Object.entries(flags)) {
    const key = flag.replace(/-/g, '_');
    if (!(key in settings))
      throw new ConfigError(
        'unknown-key',
        `flags: unknown option --${flag}; see \`ownlm ${command} --help\``,
        flag,
      );
    out[key] = valueFromText(settings[key], text);
  }
  return out;
}
