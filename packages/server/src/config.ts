// The server's configuration: flags over environment variables over defaults, validated once at start. Every
// error names the flag or variable at fault; the summary printed at start masks secrets.
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { maskUrl } from './db/database.ts';

export interface ServerConfig {
  /** ownlm's data folder: models/, the embedded database, quickstart work. */
  home: string;
  host: string;
  port: number;
  /** A PostgreSQL server; null means embedded PGlite in `<home>/db`. */
  databaseUrl: string | null;
  /** Loaded models stay under this many bytes (least recently used are unloaded). */
  memoryBudgetBytes: number;
  /** Generations one model runs at once. */
  parallelSequences: number;
  /** Requests waiting per model before 503. */
  maxQueue: number;
  /** llama.cpp threads per model. */
  threads: number;
  /** Largest request body in bytes (larger ones get 413). */
  bodyLimitBytes: number;
  /** Largest dataset upload (a JSONL body) in bytes. */
  datasetLimitBytes: number;
  /** A failed webhook delivery is retried after this many milliseconds, doubling each time… */
  webhookBackoffMs: number;
  /** …until this many attempts have failed; then the delivery is `failed`. */
  webhookAttempts: number;
  /** How long a sign-in lasts. */
  sessionDays: number;
  /** Whether cookies are marked Secure: always, never, or when the request came over HTTPS. */
  secureCookies: 'auto' | 'always' | 'never';
  /** Trust X-Forwarded-* from a reverse proxy (for HTTPS detection and client addresses). */
  trustProxy: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Training jobs this server runs at once as local child processes (0: remote workers only). */
  jobWorkers: number;
  /** How long a claimed job stays held without a heartbeat; workers beat three times per lease. */
  jobLeaseMs: number;
  /** What an hour of this machine costs, for each job's cost (wall time × rate). */
  hourlyRate: number;
  currency: string;
}

interface Setting {
  flag: string;
  env: string;
  help: string;
}

const settings = {
  home: { flag: 'home', env: 'OWNLM_HOME', help: "data folder (default '.ownlm')" },
  host: { flag: 'host', env: 'HOST', help: "address to listen on (default '127.0.0.1')" },
  port: { flag: 'port', env: 'PORT', help: 'port (default 8080)' },
  databaseUrl: {
    flag: 'database-url',
    env: 'DATABASE_URL',
    help: 'PostgreSQL URL (default: embedded PGlite)',
  },
  memoryBudget: {
    flag: 'memory-budget-mb',
    env: 'OWNLM_MEMORY_BUDGET_MB',
    help: 'model memory (default half of RAM)',
  },
  parallel: { flag: 'parallel', env: 'OWNLM_PARALLEL', help: 'generations at once per model (default 4)' },
  queue: { flag: 'max-queue', env: 'OWNLM_MAX_QUEUE', help: 'waiting requests per model (default 64)' },
  threads: { flag: 'threads', env: 'OWNLM_THREADS', help: 'llama.cpp threads (default cores - 1)' },
  bodyLimit: { flag: 'body-limit-mb', env: 'OWNLM_BODY_LIMIT_MB', help: 'largest request body (default 4)' },
  datasetLimit: {
    flag: 'dataset-limit-mb',
    env: 'OWNLM_DATASET_LIMIT_MB',
    help: 'largest dataset upload (default 64)',
  },
  webhookBackoff: {
    flag: 'webhook-backoff-ms',
    env: 'OWNLM_WEBHOOK_BACKOFF_MS',
    help: 'first webhook retry delay, doubling (default 10000)',
  },
  webhookAttempts: {
    flag: 'webhook-attempts',
    env: 'OWNLM_WEBHOOK_ATTEMPTS',
    help: 'webhook delivery attempts (default 6)',
  },
  sessionDays: { flag: 'session-days', env: 'OWNLM_SESSION_DAYS', help: 'sign-in lifetime (default 30)' },
  secureCookies: { flag: 'secure-cookies', env: 'OWNLM_SECURE_COOKIES', help: 'auto | always | never' },
  trustProxy: { flag: 'trust-proxy', env: 'OWNLM_TRUST_PROXY', help: 'true | false (default false)' },
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', help: 'fatal | error | warn | info | debug | silent' },
  jobWorkers: {
    flag: 'job-workers',
    env: 'OWNLM_JOB_WORKERS',
    help: 'training jobs at once here (default 1)',
  },
  jobLease: { flag: 'job-lease-seconds', env: 'OWNLM_JOB_LEASE_SECONDS', help: 'job lease (default 30)' },
  hourlyRate: { flag: 'hourly-rate', env: 'OWNLM_HOURLY_RATE', help: 'machine cost per hour (default 0)' },
  currency: { flag: 'currency', env: 'OWNLM_CURRENCY', help: "cost currency (default 'USD')" },
} satisfies Record<string, Setting>;

export const configUsage = `options (each also an environment variable):\n${Object.values(settings)
  .map((s) => `  --${s.flag.padEnd(18)} ${s.env.padEnd(24)} ${s.help}`)
  .join('\n')}`;

export class ConfigError extends Error {}

function integer(raw: string, setting: Setting, min: number, maxValue: number): number {
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > maxValue)
    throw new ConfigError(
      `--${setting.flag} / ${setting.env}: expected a whole number from ${min} to ${maxValue}, got '${raw}'`,
    );
  return n;
}

function oneOf<T extends string>(raw: string, setting: Setting, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(raw))
    throw new ConfigError(
      `--${setting.flag} / ${setting.env}: expected one of ${values.join(', ')}, got '${raw}'`,
    );
  return raw as T;
}

function decimal(raw: string, setting: Setting): number {
  const n = Number(raw);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || !Number.isFinite(n))
    throw new ConfigError(
      `--${setting.flag} / ${setting.env}: expected a number ≥ 0 such as 2.5, got '${raw}'`,
    );
  return n;
}

function currencyCode(raw: string, setting: Setting): string {
  if (!/^[A-Za-z]{3}$/.test(raw))
    throw new ConfigError(
      `--${setting.flag} / ${setting.env}: expected a three-letter code such as EUR, got '${raw}'`,
    );
  return raw.toUpperCase();
}

/** The configuration from command-line flags and the environment; throws ConfigError naming the bad input. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.values(settings).map((s) => [s.flag, { type: 'string' as const }])),
      strict: true,
    }).values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${configUsage}`);
  }
  const raw = (s: Setting): string | undefined => {
    const value = values[s.flag] ?? env[s.env];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const get = <T>(s: Setting, parse: (value: string) => T, fallback: T): T => {
    const value = raw(s);
    return value === undefined ? fallback : parse(value);
  };
  const mb = 2 ** 20;
  const databaseUrl = raw(settings.databaseUrl) ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl))
    throw new ConfigError(
      `--database-url / DATABASE_URL: expected postgres://…, got '${maskUrl(databaseUrl)}'`,
    );
  return {
    home: resolve(raw(settings.home) ?? '.ownlm'),
    host: raw(settings.host) ?? '127.0.0.1',
    port: get(settings.port, (v) => integer(v, settings.port, 0, 65535), 8080),
    databaseUrl,
    memoryBudgetBytes: get(
      settings.memoryBudget,
      (v) => integer(v, settings.memoryBudget, 64, 2 ** 24) * mb,
      Math.floor(totalmem() / 2),
    ),
    parallelSequences: get(settings.parallel, (v) => integer(v, settings.parallel, 1, 64), 4),
    maxQueue: get(settings.queue, (v) => integer(v, settings.queue, 0, 100_000), 64),
    threads: get(
      settings.threads,
      (v) => integer(v, settings.threads, 1, 1024),
      Math.max(1, availableParallelism() - 1),
    ),
    bodyLimitBytes: get(settings.bodyLimit, (v) => integer(v, settings.bodyLimit, 1, 1024) * mb, 4 * mb),
    datasetLimitBytes: get(
      settings.datasetLimit,
      (v) => integer(v, settings.datasetLimit, 1, 16_384) * mb,
      64 * mb,
    ),
    webhookBackoffMs: get(
      settings.webhookBackoff,
      (v) => integer(v, settings.webhookBackoff, 1, 86_400_000),
      10_000,
    ),
    webhookAttempts: get(settings.webhookAttempts, (v) => integer(v, settings.webhookAttempts, 1, 100), 6),
    sessionDays: get(settings.sessionDays, (v) => integer(v, settings.sessionDays, 1, 3650), 30),
    secureCookies: get(
      settings.secureCookies,
      (v) => oneOf(v, settings.secureCookies, ['auto', 'always', 'never'] as const),
      'auto',
    ),
    trustProxy: get(
      settings.trustProxy,
      (v) => oneOf(v, settings.trustProxy, ['true', 'false']) === 'true',
      false,
    ),
    logLevel: get(
      settings.logLevel,
      (v) => oneOf(v, settings.logLevel, ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const),
      'info',
    ),
    jobWorkers: get(settings.jobWorkers, (v) => integer(v, settings.jobWorkers, 0, 64), 1),
    jobLeaseMs: get(settings.jobLease, (v) => integer(v, settings.jobLease, 3, 86_400) * 1000, 30_000),
    hourlyRate: get(settings.hourlyRate, (v) => decimal(v, settings.hourlyRate), 0),
    currency: get(settings.currency, (v) => currencyCode(v, settings.currency), 'USD'),
  };
}

/** The configuration with defaults for everything not given (what tests and embedders use). */
export function configWithDefaults(overrides: Partial<ServerConfig> & { home: string }): ServerConfig {
  return { ...loadConfig([], {}), ...overrides, home: resolve(overrides.home) };
}

/** One line per setting for the start-up log, with the database password masked. */
export function describeConfig(config: ServerConfig): string {
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  return [
    `data folder      ${config.home}`,
    `database         ${config.databaseUrl ? maskUrl(config.databaseUrl) : `embedded PGlite in ${pgliteDirectory(config)}`}`,
    `listen           ${config.host}:${config.port}`,
    `models           ${modelsDirectory(config)}; memory budget ${mib(config.memoryBudgetBytes)}; ${config.parallelSequences} at once per model, queue ${config.maxQueue}; ${config.threads} llama.cpp threads`,
    `jobs             ${config.jobWorkers} local workers; lease ${config.jobLeaseMs / 1000} s; ${config.hourlyRate} ${config.currency} per hour`,
    `requests         body limit ${mib(config.bodyLimitBytes)}, datasets ${mib(config.datasetLimitBytes)}; sessions ${config.sessionDays} days; secure cookies ${config.secureCookies}; trust proxy ${config.trustProxy}`,
    `webhooks         ${config.webhookAttempts} attempts, first retry after ${config.webhookBackoffMs} ms, doubling`,
  ].join('\n');
}

export const modelsDirectory = (config: ServerConfig) => join(config.home, 'models');
export const pgliteDirectory = (config: ServerConfig) => join(config.home, 'db');
