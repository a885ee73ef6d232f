// Where documents come from. A `CorpusSource` is the pluggable unit: anything that can say how many input bytes
// it holds and then yield documents in a stable order. `fileSource` covers files, folders and globs through
// per-extension `FileFormat`s; demo-corpus.ts adds the bundled corpora.
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { DataError } from './errors.ts';
import { htmlToText } from './html.ts';
import type { DocumentKind } from './normalize.ts';

/** One document as a source yields it, before any processing. */
export interface SourceDocument {
  /** Where it came from: a file path, `path:line` for JSONL, `path#part` for a split file, or an adapter's locator. */
  source: string;
  text: string;
  kind: DocumentKind;
  /** Input bytes this document accounts for, so progress can be shown against `totalBytes()`. */
  inputBytes: number;
}

/** A pluggable document source; `documents()` may be called once per run and must yield in a stable order. */
export interface CorpusSource {
  /** Short label for reports, e.g. "files", "brown". */
  readonly name: string;
  /** Input bytes the source will read (for progress); also where input errors such as missing files surface. */
  totalBytes(): Promise<number>;
  documents(): AsyncIterable<SourceDocument>;
}

export interface FileReadOptions {
  /** JSONL: the field holding the text (or a list of chat messages); dots reach into nested objects ("data.text"). */
  textField: string;
  /** Text, Markdown and code files longer than this many characters are split at blank lines into several documents. */
  splitChars: number;
}

/** Reads one kind of file; chosen by extension. Add one to `fileSource`'s `formats` to support a new kind. */
export interface FileFormat {
  readonly name: string;
  /** Lowercase extensions with the dot, e.g. ".txt". */
  readonly extensions: readonly string[];
  read(path: string, options: FileReadOptions): AsyncIterable<SourceDocument>;
}

/**
 * Yields a text file as one document, or, past `splitChars`, as parts cut at the last blank line (else the
 * last line break) before the limit, so a huge file streams through in bounded memory.
 */
async function* readPlainText(
  path: string,
  kind: DocumentKind,
  splitChars: number,
): AsyncIterable<SourceDocument> {
  const size = (await stat(path)).size;
  let buffer = '';
  let part = 0;
  let bytes = 0;
  const emit = (text: string): SourceDocument => {
    part += 1;
    const inputBytes = Buffer.byteLength(text);
    bytes += inputBytes;
    return { source: part === 1 ? path : `${path}#${part}`, text, kind, inputBytes };
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    buffer += chunk as string;
    while (buffer.length > splitChars) {
      let cut = buffer.lastIndexOf('\n\n', splitChars);
      if (cut <= 0) cut = buffer.lastIndexOf('\n', splitChars);
      if (cut <= 0) cut = splitChars;
      yield emit(buffer.slice(0, cut));
      buffer = buffer.slice(cut);
    }
  }
  if (buffer.length > 0 || part === 0) {
    const last = emit(buffer);
    // Whatever the decoder dropped or replaced (BOM, invalid bytes) is still input that was read.
    last.inputBytes += Math.max(0, size - bytes);
    yield last;
  }
}

const maxHtmlBytes = 64 * 1024 * 1024;

function field(record: unknown, path: string[]): unknown {
  let value = record;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The lines of a file, yielded in groups (one per 1 MB read) with their byte lengths (newline included). Faster
 * than readline: no event or regular expression per line; a line longer than a chunk is joined once.
 */
export async function* readLines(path: string): AsyncIterable<{ line: string; bytes: number }[]> {
  let pending: Buffer[] = [];
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buffer = chunk as Buffer;
    const lines: { line: string; bytes: number }[] = [];
    let start = 0;
    let newline = buffer.indexOf(10);
    while (newline >= 0) {
      const piece =
        pending.length > 0
          ? Buffer.concat([...pending, buffer.subarray(start, newline)])
          : buffer.subarray(start, newline);
      pending = [];
      lines.push({ line: piece.toString('utf8'), bytes: piece.length + 1 });
      start = newline + 1;
      newline = buffer.indexOf(10, start);
    }
    if (start < buffer.length) pending.push(buffer.subarray(start));
    if (lines.length > 0) yield lines;
  }
  if (pending.length > 0) {
    const last = Buffer.concat(pending);
    yield [{ line: last.toString('utf8'), bytes: last.length }];
  }
}

/** A field's value as text: a list of chat messages (`{role, content}`, as datasets hold them) is the contents of its
 * messages, a blank line apart; any other value is itself. */
function messageText(value: unknown): unknown {
  const isMessage = (m: unknown) => typeof (m as { content?: unknown } | null)?.content === 'string';
  if (!Array.isArray(value) || value.length === 0 || !value.every(isMessage)) return value;
  return value.map((m: { content: string }) => m.content).join('\n\n');
}

async function* readJsonl(path: string, options: FileReadOptions): AsyncIterable<SourceDocument> {
  const keys = options.textField.split('.');
  let lineNumber = 0;
  let pendingBytes = 0;
  for await (const lines of readLines(path)) {
    for (const { line, bytes } of lines) {
      lineNumber += 1;
      pendingBytes += bytes;
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (error) {
        throw new DataError(
          'input-invalid',
          `${path}:${lineNumber}: not valid JSON (${(error as Error).message}); each line must be one JSON object`,
        );
      }
      const text = messageText(field(record, keys));
      if (typeof text !== 'string') {
        const found =
          text === undefined ? 'is missing' : `is ${text === null ? 'null' : typeof text}, not a string`;
        throw new DataError(
          'input-invalid',
          `${path}:${lineNumber}: field "${options.textField}" ${found}; choose the text field with textField (--text-field)`,
        );
      }
      yield { source: `${path}:${lineNumber}`, text, kind: 'text', inputBytes: pendingBytes };
      pendingBytes = 0;
    }
  }
}

const codeExtensions =
  '.ts .tsx .mts .cts .js .jsx .mjs .cjs .py .pyi .go .rs .java .kt .kts .scala .c .h .cc .cpp .cxx .hpp .hh .cs .fs .rb .php .swift .m .mm .sh .bash .zsh .ps1 .sql .r .jl .lua .pl .hs .ml .ex .exs .erl .clj .dart .vue .svelte .css .scss .less .yaml .yml .toml .proto .zig .nim .sol';

/** The built-in formats: plain text, Markdown, HTML, JSONL and source code. */
export const fileFormats: readonly FileFormat[] = [
  {
    name: 'text',
    extensions: ['.txt', '.text'],
    read: (path, o) => readPlainText(path, 'text', o.splitChars),
  },
  {
    name: 'markdown',
    extensions: ['.md', '.markdown', '.mdx', '.rst'],
    read: (path, o) => readPlainText(path, 'text', o.splitChars),
  },
  {
    name: 'html',
    extensions: ['.html', '.htm', '.xhtml'],
    async *read(path) {
      const { size } = await stat(path);
      if (size > maxHtmlBytes) {
        throw new DataError(
          'input-invalid',
          `${path}: HTML file of ${size} bytes is over the ${maxHtmlBytes}-byte limit of the extractor; split it or convert it to text first`,
        );
      }
      yield { source: path, text: htmlToText(await readFile(path, 'utf8')), kind: 'text', inputBytes: size };
    },
  },
  { name: 'jsonl', extensions: ['.jsonl', '.ndjson'], read: readJsonl },
  {
    name: 'code',
    extensions: codeExtensions.split(' '),
    read: (path, o) => readPlainText(path, 'code', o.splitChars),
  },
];

const globMagic = /[*?[{]/;

/** A glob (`*`, `**`, `?`, `[abc]`, `{a,b}`) as a regular expression over '/'-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let pattern = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      pattern += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') pattern += '[^/]*';
    else if (c === '?') pattern += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) pattern += '\\[';
      else {
        const body = glob
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        pattern += `[${body}]`;
        i = close;
      }
    } else if (c === '{') {
      braces += 1;
      pattern += '(?:';
    } else if (c === '}' && braces > 0) {
      braces -= 1;
      pattern += ')';
    } else if (c === ',' && braces > 0) pattern += '|';
    else pattern += c.replace(/[.+^$()|\\\]}]/g, '\\$&');
  }
  return new RegExp(`^${pattern}$`);
}

/** Files under `dir`, recursively, sorted; hidden entries and node_modules are skipped. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

async function exists(path: string): Promise<'file' | 'directory' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

export interface FileSourceOptions extends Partial<FileReadOptions> {
  /** Formats to use instead of `fileFormats`. */
  formats?: readonly FileFormat[];
}

/**
 * Documents from files, folders (recursively) and globs. A file named directly must have a known extension;
 * folders and globs skip files no format reads. Files are read in sorted order, each once.
 */
export function fileSource(inputs: readonly string[], options: FileSourceOptions = {}): CorpusSource {
  const formats = options.formats ?? fileFormats;
  const readOptions: FileReadOptions = {
    textField: options.textField ?? 'text',
    splitChars: options.splitChars ?? 262_144,
  };
  const formatOf = (path: string) => formats.find((f) => f.extensions.includes(extname(path).toLowerCase()));
  let resolved: Promise<{ files: string[]; bytes: number }> | undefined;

  async function resolveInputs(): Promise<{ files: string[]; bytes: number }> {
    const files: string[] = [];
    for (const input of inputs) {
      const kind = await exists(input);
      if (kind === 'file') {
        if (!formatOf(input)) {
          const known = formats.flatMap((f) => f.extensions).join(' ');
          throw new DataError(
            'input-unsupported',
            `${input}: no reader for '${extname(input) || '(no extension)'}' files; known: ${known}`,
          );
        }
        files.push(input);
      } else if (kind === 'directory') {
        files.push(...(await walk(input)).filter((f) => formatOf(f)));
      } else if (globMagic.test(input)) {
        const parts = input.split(/[\\/]/);
        const fixed = parts.findIndex((p) => globMagic.test(p));
        const base = parts.slice(0, fixed).join('/') || '.';
        const matcher = globToRegExp(parts.slice(fixed).join('/'));
        const matched = (await exists(base)) === 'directory' ? await walk(base) : [];
        const hits = matched.filter(
          (f) => matcher.test(relative(base, f).split(sep).join('/')) && formatOf(f),
        );
        if (hits.length === 0) throw new DataError('input-not-found', `no readable files match '${input}'`);
        files.push(...hits);
      } else {
        throw new DataError('input-not-found', `${input}: no such file or folder`);
      }
    }
    const unique = [...new Map(files.map((f) => [resolve(f), f])).values()];
    let bytes = 0;
    for (const file of unique) bytes += (await stat(file)).size;
    return { files: unique, bytes };
  }

  const resolveOnce = () => (resolved ??= resolveInputs());
  return {
    name: 'files',
    totalBytes: async () => (await resolveOnce()).bytes,
    async *documents() {
      for (const file of (await resolveOnce()).files) {
        yield* (formatOf(file) as FileFormat).read(file, readOptions);
      }
    },
  };
}
