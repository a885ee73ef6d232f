// The server's configuration: one table row per setting (flag, environment variable, type, default, help), from
// which the `ServerConfig` type, parsing (flags over environment variables over defaults), the errors naming the
// flag and variable at fault, the `--help` text and the print at start (secrets masked) are all derived.
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '@ownlm/studio';
import { maskUrl } from './db/database.ts';
import { readAllowList } from './outbound/addresses.ts';
import { defaultThreads } from './serve/llama-models.ts';

/** How a setting's text becomes its value, and back. */
interface SettingType<T> {
  /** What a valid text is, for `--help` and the error naming the setting; absent where any text is valid. */
  expected?: string;
  /** The value of a flag's or variable's text; undefined when the text is not valid. */
  read(text: string): T | undefined;
  /** The value as a flag's text, for the print at start. */
  write(value: T): string;
}

interface Setting<T> {
  flag: string;
  env: string;
  type: SettingType<T>;
  default: T;
  /** The default as `--help` states it, where the value depends on the machine or the working folder. */
  defaultText?: string;
  help: string;
  /** A URL whose password is masked wherever it is printed. */
  secret?: true;
}

const MB = 2 ** 20;

const text: SettingType<string> = { read: (raw) => raw, write: (value) => value };

const folder: SettingType<string> = { read: (raw) => resolve(raw), write: (value) => value };

/** A whole number of `unit`s (MB, seconds) from `min` to `max`, as a value in bytes or milliseconds. */
function wholeNumber(min: number, max: number, unit = 1): SettingType<number> {
  return {
    expected: `a whole number from ${min} to ${max}`,
    read(raw) {
      const n = Number(raw);
      if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) return undefined;
      return n * unit;
    },
    write: (value) => String(value / unit),
  };
}

const decimal: SettingType<number> = {
  expected: 'a number ≥ 0 such as 2.5',
  read: (raw) => (/^\s*\d+(\.\d+)?\s*$/.test(raw) && Number.isFinite(Number(raw)) ? Number(raw) : undefined),
  write: (value) => String(value),
};

function oneOf<T extends string>(values: readonly T[]): SettingType<T> {
  return {
    expected: `one of ${values.join(', ')}`,
    read: (raw) => values.find((value) => value === raw),
    write: (value) => value,
  };
}

const trueOrFalse: SettingType<boolean> = {
  expected: 'one of true, false',
  read: (raw) => (raw === 'true' ? true : raw === 'false' ? false : undefined),
  write: (value) => String(value),
};

const currencyCode: SettingType<string> = {
  expected: 'a three-letter code such as EUR',
  read: (raw) => (/^[A-Za-z]{3}$/.test(raw) ? raw.toUpperCase() : undefined),
  write: (value) => value,
};

/** Null when not set: the embedded database. */
const postgresUrl: SettingType<string | null> = {
  expected: 'postgres://…',
  read: (raw) => (/^postgres(ql)?:\/\//.test(raw) ? raw : undefined),
  write: (value) => value ?? '',
};

/** Comma-separated CIDRs, addresses and host names (outbound/addresses.ts). */
const allowList: SettingType<string[]> = {
  expected: 'comma-separated CIDRs, addresses and host names such as 10.0.0.0/8,vllm.internal',
  read: readAllowList,
  write: (value) => value.join(','),
};

/** An http(s) URL, without a trailing slash; null when not set. */
const publicUrl: SettingType<string | null> = {
  expected: 'an http:// or https:// URL such as https://ownlm.example.com',
  read(raw) {
    try {
      const url = new URL(raw);
      return /^https?:$/.test(url.protocol) && url.username === '' ? url.origin : undefined;
    } catch {
      return undefined;
    }
  },
  write: (value) => value ?? '',
};

/** Comma-separated host names (no ports, no wildcards). */
const hostNames: SettingType<string[]> = {
  expected: 'comma-separated host names such as ownlm.example.com,ownlm.internal',
  read(raw) {
    const names = raw.split(',').map((name) => name.trim().toLowerCase());
    return names.every((name) =>
      /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name),
    )
      ? names
      : undefined;
  },
  write: (value) => value.join(','),
};

const setting = <T>(row: Setting<T>): Setting<T> => row;

const settings = {
  /** ownlm's data folder: models/, the embedded database, quickstart work. */
  home: setting({
    flag: 'home',
    env: 'OWNLM_HOME',
    type: folder,
    default: resolve('.ownlm'),
    defaultText: '.ownlm',
    help: 'data folder',
  }),
  host: setting({
    flag: 'host',
    env: 'HOST',
    type: text,
    default: '127.0.0.1',
    help: 'address to listen on',
  }),
  port: setting({ flag: 'port', env: 'PORT', type: wholeNumber(0, 65535), default: 8080, help: 'port' }),
  /** A PostgreSQL server; null means embedded PGlite in `<home>/db`. */
  databaseUrl: setting({
    flag: 'database-url',
    env: 'DATABASE_URL',
    type: postgresUrl,
    default: null,
    defaultText: 'embedded PGlite',
    help: 'PostgreSQL URL',
    secret: true,
  }),
  /** Loaded models stay under this many bytes (least recently used are unloaded). */
  memoryBudgetBytes: setting({
    flag: 'memory-budget-mb',
    env: 'OWNLM_MEMORY_BUDGET_MB',
    type: wholeNumber(64, 2 ** 24, MB),
    default: Math.floor(totalmem() / 2),
    defaultText: 'half of RAM',
    help: 'model memory',
  }),
  /** Generations one model runs at once. */
  parallelSequences: setting({
    flag: 'parallel',
    env: 'OWNLM_PARALLEL',
    type: wholeNumber(1, 64),
    default: 4,
    help: 'generations at once per model',
  }),
  /** Requests waiting per model before 503. */
  maxQueue: setting({
    flag: 'max-queue',
    env: 'OWNLM_MAX_QUEUE',
    type: wholeNumber(0, 100_000),
    default: 64,
    help: 'waiting requests per model',
  }),
  /** llama.cpp threads per model. */
  threads: setting({
    flag: 'threads',
    env: 'OWNLM_THREADS',
    type: wholeNumber(1, 1024),
    default: defaultThreads(),
    defaultText: 'cores - 1',
    help: 'llama.cpp threads',
  }),
  /** Largest request body in bytes (larger ones get 413). */
  bodyLimitBytes: setting({
    flag: 'body-limit-mb',
    env: 'OWNLM_BODY_LIMIT_MB',
    type: wholeNumber(1, 1024, MB),
    default: 4 * MB,
    help: 'largest request body',
  }),
  /** Largest dataset upload (a JSONL body) in bytes. */
  datasetLimitBytes: setting({
    flag: 'dataset-limit-mb',
    env: 'OWNLM_DATASET_LIMIT_MB',
    type: wholeNumber(1, 16_384, MB),
    default: 64 * MB,
    help: 'largest dataset upload',
  }),
  /** A failed webhook delivery is retried after this many milliseconds, doubling each time… */
  webhookBackoffMs: setting({
    flag: 'webhook-backoff-ms',
    env: 'OWNLM_WEBHOOK_BACKOFF_MS',
    type: wholeNumber(1, 86_400_000),
    default: 10_000,
    help: 'first webhook retry delay, doubling',
  }),
  /** …until this many attempts have failed; then the delivery is `failed`. */
  webhookAttempts: setting({
    flag: 'webhook-attempts',
    env: 'OWNLM_WEBHOOK_ATTEMPTS',
    type: wholeNumber(1, 100),
    default: 6,
    help: 'webhook delivery attempts',
  }),
  /** How long a sign-in lasts. */
  sessionDays: setting({
    flag: 'session-days',
    env: 'OWNLM_SESSION_DAYS',
    type: wholeNumber(1, 3650),
    default: 30,
    help: 'sign-in lifetime',
  }),
  /** Whether cookies are marked Secure: always, never, or when the request came over HTTPS. */
  secureCookies: setting({
    flag: 'secure-cookies',
    env: 'OWNLM_SECURE_COOKIES',
    type: oneOf(['auto', 'always', 'never'] as const),
    default: 'auto',
    help: 'mark cookies Secure',
  }),
  /** Trust X-Forwarded-* from a reverse proxy (for HTTPS detection and client addresses). */
  trustProxy: setting({
    flag: 'trust-proxy',
    env: 'OWNLM_TRUST_PROXY',
    type: trueOrFalse,
    default: false,
    help: 'trust X-Forwarded-* headers',
  }),
  /** Where users reach this server (behind a proxy, its public address); its host name is an allowed Host. */
  publicUrl: setting({
    flag: 'public-url',
    env: 'OWNLM_PUBLIC_URL',
    type: publicUrl,
    default: null,
    defaultText: 'none',
    help: 'the URL users open',
  }),
  /** Host names requests may carry besides IP addresses, localhost and the public URL's (DNS rebinding). */
  allowedHosts: setting({
    flag: 'allowed-hosts',
    env: 'OWNLM_ALLOWED_HOSTS',
    type: hostNames,
    default: [],
    defaultText: 'none',
    help: 'other host names this server answers to',
  }),
  /** Non-public addresses and names that outbound requests (webhooks, the synthesizer's endpoint) may reach. */
  outboundAllow: setting({
    flag: 'outbound-allow',
    env: 'OWNLM_OUTBOUND_ALLOW',
    type: allowList,
    default: [],
    defaultText: 'none',
    help: 'private addresses and hosts outbound requests may reach',
  }),
  logLevel: setting({
    flag: 'log-level',
    env: 'LOG_LEVEL',
    type: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const),
    default: 'info',
    help: 'log level',
  }),
  /** Training jobs this server runs at once as local child processes (0: remote workers only). */
  jobWorkers: setting({
    flag: 'job-workers',
    env: 'OWNLM_JOB_WORKERS',
    type: wholeNumber(0, 64),
    default: 1,
    help: 'training jobs at once here',
  }),
  /** How long a claimed job stays held without a heartbeat; workers beat three times per lease. */
  jobLeaseMs: setting({
    flag: 'job-lease-seconds',
    env: 'OWNLM_JOB_LEASE_SECONDS',
    type: wholeNumber(3, 86_400, 1000),
    default: 30_000,
    help: 'job lease',
  }),
  /** How long a fine-tune preflight waits for its turn (two are computed at once) before 503. */
  preflightWaitMs: setting({
    flag: 'preflight-wait-seconds',
    env: 'OWNLM_PREFLIGHT_WAIT_SECONDS',
    type: wholeNumber(0, 3600, 1000),
    default: 30_000,
    help: 'fine-tune preflight wait before 503',
  }),
  /** What an hour of this machine costs, for each job's cost (wall time × rate). */
  hourlyRate: setting({
    flag: 'hourly-rate',
    env: 'OWNLM_HOURLY_RATE',
    type: decimal,
    default: 0,
    help: 'machine cost per hour',
  }),
  currency: setting({
    flag: 'currency',
    env: 'OWNLM_CURRENCY',
    type: currencyCode,
    default: 'USD',
    help: 'cost currency',
  }),
};

type Settings = typeof settings;

export type ServerConfig = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

const rows = Object.values(settings) as Setting<unknown>[];

const masked = (row: Setting<unknown>, raw: string) => (row.secret ? maskUrl(raw) : raw);

const optionColumn = (row: Setting<unknown>) => `--${row.flag.padEnd(18)}`;

export const configUsage = `options (each also an environment variable):\n${rows
  .map((row) => {
    const expected = row.type.expected ? `${row.type.expected}; ` : '';
    const shown = row.defaultText ?? row.type.write(row.default);
    return `  ${optionColumn(row)} ${row.env.padEnd(24)} ${row.help} (${expected}default ${shown})`;
  })
  .join('\n')}`;

/** The configuration from command-line flags and the environment; throws ConfigError naming the bad input. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: argv,
      options: Object.fromEntries(rows.map((row) => [row.flag, { type: 'string' as const }])),
      strict: true,
    }).values;
  } catch (error) {
    throw new ConfigError('unknown-key', `${(error as Error).message}\n${configUsage}`);
  }
  const value = (row: Setting<unknown>): unknown => {
    const raw = flags[row.flag] ?? env[row.env];
    if (typeof raw !== 'string' || raw === '') return row.default;
    const read = row.type.read(raw);
    if (read === undefined)
      throw new ConfigError(
        'invalid-value',
        `--${row.flag} / ${row.env}: expected ${row.type.expected}, got '${masked(row, raw)}'`,
        row.flag,
      );
    return read;
  };
  return Object.fromEntries(
    Object.entries(settings).map(([name, row]) => [name, value(row as Setting<unknown>)]),
  ) as ServerConfig;
}

/** The configuration with defaults for everything not given (what tests and embedders use). */
export function configWithDefaults(overrides: Partial<ServerConfig> & { home: string }): ServerConfig {
  return { ...loadConfig([], {}), ...overrides, home: resolve(overrides.home) };
}

/** One line per setting, as the flag that would set it, for the start-up log; secrets are masked. */
export function describeConfig(config: ServerConfig): string {
  return Object.entries(settings)
    .map(([name, row]) => {
      const current = config[name as keyof ServerConfig];
      const shown =
        current === null
          ? `(${row.defaultText})`
          : masked(row, (row as Setting<unknown>).type.write(current));
      return `  ${optionColumn(row)} ${shown}`;
    })
    .join('\n');
}

export const modelsDirectory = (config: ServerConfig) => join(config.home, 'models');
export const pgliteDirectory = (config: ServerConfig) => join(config.home, 'db');
