// The server's recent logs for the admins' logs viewer: every line the app's logger writes passes through
// `LogRing.write`, which takes the secrets out, prints it, keeps it in a bounded ring in memory and appends it to
// `<home>/logs/server.log` (rotated to `server.log.1` past a size), so a restarted server shows the lines written
// before it stopped.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** pino's levels by number, as the viewer names them. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

/** One logged line: pino's JSON object, secrets removed. */
export interface LogEntry {
  /** Milliseconds since the epoch. */
  time: number;
  level: number;
  msg: string;
  /** The whole line, as written. */
  fields: Record<string, unknown>;
}

export interface LogFilter {
  /** The lowest level shown. */
  level: number;
  /** Kept when the line's JSON contains it, case-insensitively. */
  text: string;
  limit: number;
}

const REDACTED = '[redacted]';

/** Fields whose value is a secret, wherever they are nested (headers, bodies, errors); `promptTokens` is not. */
const SECRET_KEY =
  /^(?:authorization|proxy-authorization|cookie|set-cookie|token|api[-_]?key)$|password|secret|csrf|(?:access|refresh|session|worker|invitation)[-_]?token|token[-_]?hash/i;

/**
 * Secrets inside free text: ownlm's API keys, worker tokens and webhook secrets by their prefixes, bearer
 * credentials, and the values of query parameters that carry a secret (an invitation link's token, …).
 */
const SECRET_TEXT: [RegExp, string][] = [
  [/\b(?:sk-ownlm-|ow-worker-|whsec_)[A-Za-z0-9_-]+/g, REDACTED],
  [/\b(Bearer|Basic)\s+[^\s"',]+/gi, `$1 ${REDACTED}`],
  [/([?&;](?:token|secret|key|password|code|signature)=)[^&\s"#]*/gi, `$1${REDACTED}`],
];

function scrubText(text: string): string {
  let scrubbed = text;
  for (const [pattern, replacement] of SECRET_TEXT) scrubbed = scrubbed.replace(pattern, replacement);
  return scrubbed;
}

/** A copy of a logged value without secrets: secret fields replaced, secrets in strings masked. */
export function scrubLogValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 8) return '[nested]';
  if (Array.isArray(value)) return value.map((item) => scrubLogValue(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      SECRET_KEY.test(key) && field !== null && field !== undefined
        ? REDACTED
        : scrubLogValue(field, depth + 1),
    ]),
  );
}

function entryOf(fields: Record<string, unknown>): LogEntry {
  return {
    time: typeof fields.time === 'number' ? fields.time : 0,
    level: typeof fields.level === 'number' ? fields.level : LOG_LEVELS.info,
    msg: typeof fields.msg === 'string' ? fields.msg : '',
    fields,
  };
}

/** A JSON line as an entry; a line that is not a JSON object (a torn last line) is none. */
function parseLine(line: string): LogEntry | null {
  try {
    const fields = JSON.parse(line) as unknown;
    return typeof fields === 'object' && fields !== null && !Array.isArray(fields)
      ? entryOf(fields as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

export class LogRing {
  private readonly entries: LogEntry[] = [];
  private readonly capacity: number;
  private readonly fileBytes: number;
  private readonly file: string;
  private readonly print: (line: string) => void;
  /** The open file; null once closed, or after a write failed (the ring and the printing go on). */
  private fd: number | null;
  private written: number;

  /**
   * `capacity` lines are kept in memory; the file is rotated once it would pass `fileBytes`, so the disk holds at
   * most twice that. `print` receives each scrubbed line (the process's standard output by default).
   */
  constructor(options: {
    directory: string;
    capacity?: number;
    fileBytes?: number;
    print?: (line: string) => void;
  }) {
    this.capacity = options.capacity ?? 2000;
    this.fileBytes = options.fileBytes ?? 4 * 1024 * 1024;
    this.print = options.print ?? ((line) => process.stdout.write(line));
    mkdirSync(options.directory, { recursive: true });
    this.file = join(options.directory, 'server.log');
    for (const path of [`${this.file}.1`, this.file])
      if (existsSync(path))
        for (const line of readFileSync(path, 'utf8').split('\n')) {
          const entry = line ? parseLine(line) : null;
          if (entry) this.keep(entry);
        }
    this.fd = openSync(this.file, 'a', 0o600);
    this.written = statSync(this.file).size;
  }

  private keep(entry: LogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** The logger's destination: one JSON line per call. */
  write(line: string): void {
    const parsed = parseLine(line);
    const entry = parsed ? entryOf(scrubLogValue(parsed.fields) as Record<string, unknown>) : null;
    const text = entry ? `${JSON.stringify(entry.fields)}\n` : scrubText(line);
    this.print(text);
    if (!entry) return;
    this.keep(entry);
    if (this.fd === null) return;
    const bytes = Buffer.byteLength(text);
    try {
      if (this.written > 0 && this.written + bytes > this.fileBytes) {
        closeSync(this.fd);
        this.fd = null;
        renameSync(this.file, `${this.file}.1`);
        this.fd = openSync(this.file, 'a', 0o600);
        this.written = 0;
      }
      writeSync(this.fd, text);
      this.written += bytes;
    } catch (error) {
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      this.print(
        `${JSON.stringify({ level: LOG_LEVELS.error, time: Date.now(), msg: `the log file stopped: ${(error as Error).message}` })}\n`,
      );
    }
  }

  /** The newest lines first, at or above the level and containing the text. */
  recent(filter: LogFilter): LogEntry[] {
    const text = filter.text.toLowerCase();
    const found: LogEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && found.length < filter.limit; i--) {
      const entry = this.entries[i]!;
      if (entry.level < filter.level) continue;
      if (text && !JSON.stringify(entry.fields).toLowerCase().includes(text)) continue;
      found.push(entry);
    }
    return found;
  }

  /** Stops writing the file; lines logged after it are still printed and kept in memory. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
