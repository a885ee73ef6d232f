// One `ownlm` subcommand, and the one way commands read their arguments. A command declares its options as a
// flat table of settings (the studio's config-table kinds, defaults, rules and help); parsing, validation,
// usage errors and --help are derived from it. A command whose flags set a config (train, finetune) also
// takes every key of that config's table as a flag, collected as text for the config to validate with the
// file it is merged with.
import {
  ConfigError,
  flagName,
  mismatch,
  valueFromText,
  type ConfigTable,
  type Rule,
  type Setting,
} from '@ownlm/studio';

/** One `ownlm` subcommand. `run` receives the arguments after the command name and returns an exit code. */
export interface Command {
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}

/**
 * A command-line option. Its rule's words say the whole expectation ('a positive integer'), so a value of the
 * wrong kind and one outside the rule get the same message.
 */
export interface Option extends Setting {
  /** A one-letter alias: 'o' for -o. */
  short?: string;
  /** The flag may be given several times; the value is the list of what each gave. */
  repeatable?: boolean;
  /** The command cannot run without it (a usage error, exit 2). */
  required?: boolean;
}

/** The --events option of the long-running commands; `events` names what the command writes. */
export function eventsOption(events: string) {
  return {
    kind: 'string',
    placeholder: 'PATH|-',
    help: `also write ${events} as JSON lines to PATH, or to stdout (the lines for a person then go to stderr)`,
  } as const satisfies Option;
}

export const positiveInteger: Rule<number> = [(v) => v > 0, 'a positive integer'];
export const nonNegativeInteger: Rule<number> = [(v) => v >= 0, 'a non-negative integer'];

interface KindValues {
  string: string;
  integer: number;
  number: number;
  boolean: boolean;
  strings: string[];
  'optional-integer': number | null;
  'optional-number': number | null;
}

/** The parsed options: a boolean is false when absent, another option undefined unless it has a default. */
export type Values<O extends Record<string, Option>> = {
  [K in keyof O]: O[K]['kind'] extends 'boolean'
    ? boolean
    : O[K] extends { default: unknown } | { required: true }
      ? KindValues[O[K]['kind']]
      : KindValues[O[K]['kind']] | undefined;
};

export interface Arguments<O extends Record<string, Option>> {
  values: Values<O>;
  positionals: string[];
  /** The flags that set the command's config, as given: key → text. */
  settings: Record<string, string>;
  /** Prints `message` and the usage to stderr; returns the exit code of a usage error. */
  usageError(message: string): number;
}

export interface CommandSpec<O extends Record<string, Option>> {
  /** The words after `ownlm`: 'data pack'. */
  name: string;
  summary: string;
  /** What follows "usage: ", one line per form of the command. */
  usage: string;
  /** What the command does: the paragraphs under the usage line. */
  about: string;
  options: O;
  /** The positional arguments' placeholder and how many there must be; none when absent. */
  positionals?: { name: string; min: number; max?: number };
  /** A config whose keys are also flags (--batch-size 8 sets batch_size); an option of the same name wins. */
  settings?: ConfigTable<unknown>;
  /** Text after the lists of options. */
  notes?: string;
  run(args: Arguments<O>): Promise<number>;
}

const placeholders: Record<Setting['kind'], string> = {
  string: 'TEXT',
  integer: 'N',
  number: 'X',
  boolean: '',
  strings: 'LIST',
  'optional-integer': 'N',
  'optional-number': 'X',
};

/** What --help says a setting defaults to, if anything. */
function shownDefault(setting: Setting): string | undefined {
  if (setting.defaultHelp !== undefined) return setting.defaultHelp;
  const value = setting.default;
  if (value === undefined || value === false) return undefined;
  return Array.isArray(value) ? value.join(setting.separator ?? '|') : String(value);
}

/** Aligned `  --flag VALUE   help (default …)` lines. */
function optionLines(entries: [string, Option][]): string[] {
  const rows = entries.map(([key, option]) => {
    const placeholder = option.placeholder ?? placeholders[option.kind];
    const flag = `${option.short ? `-${option.short}, ` : ''}${flagName(key)}${placeholder ? ` ${placeholder}` : ''}`;
    const shown = shownDefault(option);
    const notes = [
      option.required ? 'required' : undefined,
      option.repeatable ? 'repeatable' : undefined,
      shown === undefined ? undefined : `default ${shown}`,
    ].filter((note) => note !== undefined);
    return [flag, notes.length > 0 ? `${option.help} (${notes.join('; ')})` : option.help];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}${wrap(help, 2 + width)}`);
}

/** `text` in lines of at most 110 columns, the later ones indented by `indent`. */
function wrap(text: string, indent: number): string {
  const lines = [''];
  for (const word of text.split(' ')) {
    const line = lines.at(-1)!;
    if (line !== '' && indent + line.length + 1 + word.length > 110) lines.push(word);
    else lines[lines.length - 1] = line === '' ? word : `${line} ${word}`;
  }
  return lines.join(`\n${' '.repeat(indent)}`);
}

function helpText<O extends Record<string, Option>>(
  spec: CommandSpec<O>,
  settings: [string, Setting][],
): string {
  const help: [string, Option] = ['help', { kind: 'boolean', short: 'h', help: 'show this help' }];
  const parts = [
    `usage: ${spec.usage}`,
    spec.about,
    `options:\n${optionLines([...Object.entries(spec.options), help]).join('\n')}`,
  ];
  if (settings.length > 0)
    parts.push(
      `settings (also keys of the --config file; a flag overrides the file):\n${optionLines(
        settings.map(([key, setting]) => [key, { ...setting, required: setting.default === undefined }]),
      ).join('\n')}`,
    );
  if (spec.notes) parts.push(spec.notes);
  return parts.join('\n\n');
}

const isNumber = (text: string) => text.trim() !== '' && !Number.isNaN(Number(text));

interface Flag {
  key: string;
  /** A command option: parsed and checked here. */
  option?: Option;
  /** A config key: its text is passed on for the config to check. */
  setting?: Setting;
}

interface Parsed {
  values: Record<string, unknown>;
  positionals: string[];
  settings: Record<string, string>;
}

/** The flags and positionals of `argv`, or 'help'; throws ConfigError at an unknown flag or a bad value. */
function parse(argv: string[], flags: Map<string, Flag>, command: string): Parsed | 'help' {
  const parsed: Parsed = { values: {}, positionals: [], settings: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || isNumber(arg)) {
      parsed.positionals.push(arg);
      continue;
    }
    if (arg === '--help' || arg === '-h') return 'help';
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = (equals < 0 ? arg : arg.slice(0, equals)).replace(/_/g, '-');
    const flag = flags.get(name);
    if (!flag)
      throw new ConfigError('unknown-key', `unknown option ${name}; see \`ownlm ${command} --help\``, name);
    let text = equals < 0 ? undefined : arg.slice(equals + 1);
    if ((flag.option ?? flag.setting)!.kind === 'boolean') {
      // A config's switch also takes the word its YAML value would be (--merge false).
      if (text === undefined && flag.setting && /^(true|false)$/.test(argv[i + 1] ?? '')) text = argv[++i];
      text ??= 'true';
    } else if (text === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-' && !isNumber(next)))
        throw new ConfigError('invalid-value', `${name} needs a value`, name);
      text = argv[++i];
    }
    if (flag.setting) {
      parsed.settings[flag.key] = text;
      continue;
    }
    const option = flag.option!;
    const value = option.repeatable ? [text] : valueFromText(option, text);
    const expected = mismatch(option, value);
    if (expected !== null)
      throw new ConfigError(
        'invalid-value',
        `${name} must be ${option.rule?.[1] ?? expected}, got '${text}'`,
        name,
      );
    const earlier = parsed.values[flag.key] as string[] | undefined;
    parsed.values[flag.key] = option.repeatable ? [...(earlier ?? []), text] : value;
  }
  return parsed;
}

/** Builds a command from its declaration; see CommandSpec. */
export function defineCommand<const O extends Record<string, Option>>(spec: CommandSpec<O>): Command {
  const settings = Object.entries<Setting>(spec.settings ?? {}).filter(([key]) => !(key in spec.options));
  const help = helpText(spec, settings);
  const flags = new Map<string, Flag>();
  for (const [key, setting] of settings) flags.set(flagName(key), { key, setting });
  for (const [key, option] of Object.entries(spec.options)) {
    flags.set(flagName(key), { key, option });
    if (option.short) flags.set(`-${option.short}`, { key, option });
  }
  const usageError = (message: string) => {
    console.error(`ownlm ${spec.name}: ${message}\n\n${help}`);
    return 2;
  };

  return {
    summary: spec.summary,
    async run(argv) {
      const parsed = parse(argv, flags, spec.name);
      if (parsed === 'help') {
        console.log(help);
        return 0;
      }
      const { values, positionals } = parsed;
      const missing: string[] = [];
      for (const [key, option] of Object.entries(spec.options)) {
        if (values[key] !== undefined) continue;
        if (option.kind === 'boolean') values[key] = false;
        else if (option.default !== undefined) values[key] = option.default;
        else if (option.required) missing.push(flagName(key));
      }
      const { name, min, max } = spec.positionals ?? { name: '', min: 0, max: 0 };
      const extra = max === undefined ? undefined : positionals[max];
      if (extra !== undefined)
        throw new ConfigError(
          'unknown-key',
          `unexpected argument '${extra}'; see \`ownlm ${spec.name} --help\``,
        );
      if (positionals.length < min) missing.unshift(min === max ? `one ${name}` : `at least one ${name}`);
      if (missing.length > 0)
        return usageError(
          `give ${missing.slice(0, -1).join(', ')}${missing.length > 1 ? ' and ' : ''}${missing.at(-1)}`,
        );
      return spec.run({ values: values as Values<O>, positionals, settings: parsed.settings, usageError });
    },
  };
}
