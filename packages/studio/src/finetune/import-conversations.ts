// Conversation files → the OpenAI chat form (docs/FORMATS.md#conversation-datasets), line by line. OpenAI chat,
// ShareGPT and Alpaca lines are converted; a line that cannot be is rejected with its 1-based number, the
// field at fault and why, and the import goes on, so a user sees every bad line at once.
import { DataError } from '../data/errors.ts';
import { readLines } from '../data/sources.ts';
import type {
  Conversation,
  ConversationFormat,
  ConversationMessage,
  ConversationRole,
  RejectedLine,
} from './conversation.ts';

export const conversationFormats: readonly ConversationFormat[] = ['openai', 'sharegpt', 'alpaca'];

export interface ImportConversationsOptions {
  /** The file's format; `auto` takes it from the keys of the first line that is a JSON object. */
  format: ConversationFormat | 'auto';
  /** Named in errors about the options. */
  file?: string;
}

export interface ImportConversationsResult {
  conversations: Conversation[];
  rejected: RejectedLine[];
  /** The format the lines were read as (the detected one for `auto`; `openai` when no line was an object). */
  format: ConversationFormat;
}

/** Why one line was refused: the field at fault (dotted path with indexes) and the reason. */
function lineError(field: string | undefined, message: string): DataError {
  return new DataError('input-invalid', message, field);
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw lineError(field, `must be a string, got ${describe(value)}`);
  if (value.trim() === '') throw lineError(field, 'is empty');
  return value;
}

/** A string field that may be absent; an empty one counts as absent. */
function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw lineError(field, `must be a string, got ${describe(value)}`);
  return value.trim() === '' ? undefined : value;
}

function list(line: JsonObject, key: string): unknown[] {
  const value = required(line, key);
  if (!Array.isArray(value)) throw lineError(key, `must be an array, got ${describe(value)}`);
  if (value.length === 0) throw lineError(key, 'is empty');
  return value;
}

const openaiRoles = new Set<string>(['system', 'user', 'assistant']);

function fromOpenai(line: JsonObject): ConversationMessage[] {
  return list(line, 'messages').map((entry, i) => {
    const at = `messages[${i}]`;
    if (!isObject(entry)) throw lineError(at, `must be an object, got ${describe(entry)}`);
    const { role, content, weight } = entry;
    if (typeof role !== 'string') throw lineError(`${at}.role`, `must be a string, got ${describe(role)}`);
    if (!openaiRoles.has(role)) {
      throw lineError(`${at}.role`, `unknown role "${role}" (expected system, user or assistant)`);
    }
    const message: ConversationMessage = {
      role: role as ConversationRole,
      content: text(content, `${at}.content`),
    };
    if (weight !== undefined) {
      if (role !== 'assistant') throw lineError(`${at}.weight`, 'is only allowed on assistant messages');
      if (weight !== 0 && weight !== 1)
        throw lineError(`${at}.weight`, `must be 0 or 1, got ${describe(weight)}`);
      message.weight = weight;
    }
    return message;
  });
}

const sharegptRoles: Record<string, ConversationRole> = { system: 'system', human: 'user', gpt: 'assistant' };

function fromSharegpt(line: JsonObject): ConversationMessage[] {
  const system = optionalText(line.system, 'system');
  const turns = list(line, 'conversations').map((entry, i): ConversationMessage => {
    const at = `conversations[${i}]`;
    if (!isObject(entry)) throw lineError(at, `must be an object, got ${describe(entry)}`);
    const { from, value } = entry;
    if (typeof from !== 'string') throw lineError(`${at}.from`, `must be a string, got ${describe(from)}`);
    if (from === 'function_call' || from === 'observation') {
      throw lineError(
        `${at}.from`,
        `"${from}" turns (tool use) are not supported: ownlm does not train tool calls`,
      );
    }
    const role = sharegptRoles[from];
    if (!role) throw lineError(`${at}.from`, `unknown role "${from}" (expected system, human or gpt)`);
    return { role, content: text(value, `${at}.value`) };
  });
  return system === undefined ? turns : [{ role: 'system', content: system }, ...turns];
}

function fromAlpaca(line: JsonObject): ConversationMessage[] {
  const messages: ConversationMessage[] = [];
  const system = optionalText(line.system, 'system');
  if (system !== undefined) messages.push({ role: 'system', content: system });
  if (line.history !== undefined) {
    if (!Array.isArray(line.history))
      throw lineError('history', `must be an array, got ${describe(line.history)}`);
    line.history.forEach((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw lineError(`history[${i}]`, 'must be a [question, answer] pair of strings');
      }
      messages.push(
        { role: 'user', content: text(pair[0], `history[${i}][0]`) },
        { role: 'assistant', content: text(pair[1], `history[${i}][1]`) },
      );
    });
  }
  const instruction = text(required(line, 'instruction'), 'instruction');
  const input = optionalText(line.input, 'input');
  messages.push(
    { role: 'user', content: input === undefined ? instruction : `${instruction}\n\n${input}` },
    { role: 'assistant', content: text(required(line, 'output'), 'output') },
  );
  return messages;
}

function required(line: JsonObject, key: string): unknown {
  if (line[key] === undefined) throw lineError(key, 'is missing');
  return line[key];
}

const converters: Record<ConversationFormat, (line: JsonObject) => ConversationMessage[]> = {
  openai: fromOpenai,
  sharegpt: fromSharegpt,
  alpaca: fromAlpaca,
};

/** The key that marks each format, used both to detect it and to explain a line of another format. */
const markers: [ConversationFormat, string][] = [
  ['openai', 'messages'],
  ['sharegpt', 'conversations'],
  ['alpaca', 'instruction'],
];

function detect(line: JsonObject): ConversationFormat | undefined {
  return markers.find(([, key]) => key in line)?.[0];
}

/** Rules every converted conversation must meet, whatever its source format; `fieldOf` maps back to the line. */
function checkConversation(
  messages: ConversationMessage[],
  fieldOf: (index: number) => string | undefined,
): void {
  messages.forEach((message, i) => {
    if (message.role === 'system' && i > 0) {
      throw lineError(fieldOf(i), 'a system message may only come first (one per conversation)');
    }
  });
  if (!messages.some((m) => m.role === 'assistant'))
    throw lineError(undefined, 'no assistant turn to train on');
}

/** Converts lines one by one; `auto` settles on a format at the first line that is a JSON object. */
export class ConversationImporter {
  readonly conversations: Conversation[] = [];
  readonly rejected: RejectedLine[] = [];
  private format: ConversationFormat | undefined;

  constructor(options: ImportConversationsOptions) {
    const { format, file } = options;
    if (format !== 'auto' && !conversationFormats.includes(format)) {
      throw new DataError(
        'options-invalid',
        `${file ? `${file}: ` : ''}unknown dataset format "${String(format)}" (expected auto, ${conversationFormats.join(', ')})`,
      );
    }
    this.format = format === 'auto' ? undefined : format;
  }

  /** Takes one line (without its newline); blank lines are skipped. */
  add(raw: string, lineNumber: number): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    try {
      this.conversations.push({ messages: this.convert(line) });
    } catch (error) {
      if (!(error instanceof DataError) || error.code !== 'input-invalid') throw error;
      const rejection: RejectedLine = { line: lineNumber, message: error.message };
      if (error.field !== undefined) rejection.field = error.field;
      this.rejected.push(rejection);
    }
  }

  result(): ImportConversationsResult {
    return { conversations: this.conversations, rejected: this.rejected, format: this.format ?? 'openai' };
  }

  private convert(line: string): ConversationMessage[] {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw lineError(undefined, `invalid JSON: ${(error as Error).message}`);
    }
    if (!isObject(value)) throw lineError(undefined, `must be a JSON object, got ${describe(value)}`);
    const format = (this.format ??= detect(value));
    if (!format) {
      throw lineError(
        undefined,
        'not a conversation: expected a "messages", "conversations" or "instruction" key',
      );
    }
    const [, key] = markers.find(([f]) => f === format)!;
    if (!(key in value)) {
      const other = detect(value);
      const hint = other ? ` (this line looks like ${other}; one file holds one format)` : '';
      throw lineError(key, `is missing${hint}`);
    }
    const messages = converters[format](value);
    checkConversation(messages, (i) => fieldOfMessage(format, value as JsonObject, i));
    return messages;
  }
}

/** The source field of converted message `index`, for the formats where messages map one to one. */
function fieldOfMessage(format: ConversationFormat, line: JsonObject, index: number): string | undefined {
  if (format === 'openai') return `messages[${index}].role`;
  if (format === 'sharegpt')
    return `conversations[${index - (optionalText(line.system, 'system') ? 1 : 0)}].from`;
  return undefined;
}

/** Converts a whole JSONL text (a leading byte-order mark is ignored). */
export function importConversations(
  text: string,
  options: ImportConversationsOptions,
): ImportConversationsResult {
  const importer = new ConversationImporter(options);
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let start = 0;
  let lineNumber = 0;
  while (start < body.length) {
    const end = body.indexOf('\n', start);
    const stop = end < 0 ? body.length : end;
    importer.add(body.slice(start, stop), ++lineNumber);
    start = stop + 1;
  }
  return importer.result();
}

/** Converts a JSONL file, reading it in 1 MB chunks so only the conversations are held in memory. */
export async function importConversationsFile(
  path: string,
  options: Omit<ImportConversationsOptions, 'file'>,
): Promise<ImportConversationsResult> {
  const importer = new ConversationImporter({ ...options, file: path });
  let lineNumber = 0;
  try {
    for await (const lines of readLines(path)) {
      for (const { line } of lines) {
        lineNumber += 1;
        importer.add(lineNumber === 1 && line.startsWith('\uFEFF') ? line.slice(1) : line, lineNumber);
      }
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('input-not-found', `${path}: no such file`);
    if (code === 'EISDIR') throw new DataError('input-unsupported', `${path} is a folder; give a JSONL file`);
    throw error;
  }
  return importer.result();
}
