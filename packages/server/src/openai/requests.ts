// OpenAI-compatible request bodies (docs/FORMATS.md#openai-http-api), parsed by hand from untrusted
// JSON into what the runtime takes. A field of the wrong type or out of range is a 400 `invalid_request` whose
// `param` names it (`messages[2].content`); a valid field the runtime cannot honour is a 501 `not_supported`;
// unknown fields are ignored. Limits that depend on the model (context length, embedding size) are checked by
// the route once the model is resolved.
//
// Accepted but ignored (validated, then without effect, because the Runtime interface has no such knob):
// `presence_penalty`, `frequency_penalty` (numbers in [-2, 2]), a message's `name`, `user`,
// `safety_identifier`, `parallel_tool_calls`, `response_format.json_schema.strict` (the grammar always enforces
// the schema). `logit_bias` is accepted only when empty: a client that sends biases relies on them (to ban a
// token, say), so silently dropping them would change its output without telling it.
import { AppError } from '../errors.ts';
import type { GenerationOptions, RuntimeMessage } from '../serve/runtime.ts';

/** Messages per chat request. */
export const MAX_MESSAGES = 4096;
/** Content parts per message. */
export const MAX_CONTENT_PARTS = 1024;
/** Characters per stop string (the stop filter holds back up to this much streamed text). */
export const MAX_STOP_LENGTH = 256;
/** A model reference (`name`, `name:version`, alias or version id) longer than this cannot exist. */
export const MAX_MODEL_LENGTH = 256;
/** Nesting depth and node count of a `json_schema` schema, bounded before it becomes a grammar. */
export const MAX_SCHEMA_DEPTH = 64;
export const MAX_SCHEMA_NODES = 10_000;
/** Inputs per embeddings request (OpenAI's limit). */
export const MAX_EMBEDDING_INPUTS = 2048;

/** The length a client asked for, with the field it came from (for a 400 naming it). */
export interface RequestedLength {
  value: number;
  param: string;
}

/** Sampling, length and streaming fields shared by chat and completions. */
export interface SamplingRequest {
  /** What the client asked for, echoed in `model` of the response. */
  model: string;
  temperature: number;
  topP: number;
  /** The client's seed taken modulo 2^32 (llama.cpp's seed is 32 bits); absent means random. */
  seed?: number;
  stop: string[];
  /** Null: up to the end of the model's context. */
  maxTokens: RequestedLength | null;
  stream: boolean;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
}

export interface ChatRequest extends SamplingRequest {
  messages: RuntimeMessage[];
  responseFormat?: GenerationOptions['responseFormat'];
}

export interface CompletionRequest extends SamplingRequest {
  prompt: string;
  /** Prepend the prompt to the returned text. */
  echo: boolean;
  maxTokens: RequestedLength;
}

export interface EmbeddingRequest {
  model: string;
  inputs: string[];
  encodingFormat: 'float' | 'base64';
  /** Must equal the model's embedding size (no truncation is done); null when not sent. */
  dimensions: number | null;
}

type Body = Record<string, unknown>;

const invalid = (param: string, message: string) =>
  new AppError('invalid_request', `${param}: ${message}`, param);
const unsupported = (param: string, message: string) =>
  new AppError('not_supported', `${param}: ${message}`, param);

const isObject = (value: unknown): value is Body =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a value is, for messages ("got an array"); never echoes the value itself, which may be huge. */
function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number out of range';
  return `a ${typeof value}`;
}

/** A short rendering of a number for messages. */
const show = (value: number) => String(value).slice(0, 32);

const absent = (value: unknown) => value === undefined || value === null;

function body(value: unknown): Body {
  if (!isObject(value))
    throw new AppError(
      'invalid_request',
      `the request body must be a JSON object (send Content-Type: application/json), got ${kind(value)}`,
    );
  return value;
}

interface NumberRule {
  min: number;
  max: number;
  /** The lower bound itself is not allowed. */
  minExclusive?: boolean;
  integer?: boolean;
}

function number(b: Body, param: string, rule: NumberRule): number | undefined {
  const value = b[param];
  if (absent(value)) return undefined;
  const what = rule.integer ? 'an integer' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalid(param, `expected ${what} from ${rule.min} to ${rule.max}, got ${kind(value)}`);
  if (rule.integer && !Number.isInteger(value)) throw invalid(param, `expected ${what}, got ${show(value)}`);
  if (value < rule.min || value > rule.max || (rule.minExclusive && value === rule.min))
    throw invalid(
      param,
      `must be ${rule.minExclusive ? 'greater than' : 'at least'} ${rule.min} and at most ${rule.max}, got ${show(value)}`,
    );
  return value;
}

function boolean(b: Body, param: string): boolean | undefined {
  const value = b[param];
  if (absent(value)) return undefined;
  if (typeof value !== 'boolean') throw invalid(param, `expected true or false, got ${kind(value)}`);
  return value;
}

function model(b: Body): string {
  const value = b.model;
  if (typeof value !== 'string' || value.length === 0)
    throw invalid('model', `expected a model name (GET /v1/models lists them), got ${kind(value)}`);
  if (value.length > MAX_MODEL_LENGTH)
    throw invalid(
      'model',
      `a model name is at most ${MAX_MODEL_LENGTH} characters; GET /v1/models lists them`,
    );
  return value;
}

function stop(b: Body): string[] {
  const value = b.stop;
  if (absent(value)) return [];
  const one = (s: unknown, param: string) => {
    if (typeof s !== 'string') throw invalid(param, `expected a string, got ${kind(s)}`);
    if (s.length === 0) throw invalid(param, 'a stop string must not be empty');
    if (s.length > MAX_STOP_LENGTH)
      throw invalid(param, `a stop string is at most ${MAX_STOP_LENGTH} characters`);
    return s;
  };
  if (typeof value === 'string') return [one(value, 'stop')];
  if (!Array.isArray(value))
    throw invalid('stop', `expected a string or an array of strings, got ${kind(value)}`);
  if (value.length > 4) throw invalid('stop', `at most 4 stop strings, got ${value.length}`);
  return value.map((s, i) => one(s, `stop[${i}]`));
}

/** `n` (and `best_of`): only one choice is generated per request. */
function single(b: Body, param: string): void {
  const value = number(b, param, { min: 1, max: 128, integer: true });
  if (value !== undefined && value !== 1)
    throw invalid(param, `only 1 is supported (one choice per request); send ${value} requests instead`);
}

function streaming(b: Body): { stream: boolean; includeUsage: boolean } {
  const stream = boolean(b, 'stream') ?? false;
  const options = b.stream_options;
  if (absent(options)) return { stream, includeUsage: false };
  if (!stream) throw invalid('stream_options', 'only allowed when stream is true');
  if (!isObject(options)) throw invalid('stream_options', `expected an object, got ${kind(options)}`);
  const include = options.include_usage;
  if (!absent(include) && typeof include !== 'boolean')
    throw invalid('stream_options.include_usage', `expected true or false, got ${kind(include)}`);
  return { stream, includeUsage: include === true };
}

/** Fields shared by chat and completions; `maxTokens` is decided by the caller. */
function sampling(b: Body): Omit<SamplingRequest, 'maxTokens'> {
  single(b, 'n');
  // Validated so that garbage is refused, then ignored: the Runtime has no penalties (see the file comment).
  number(b, 'presence_penalty', { min: -2, max: 2 });
  number(b, 'frequency_penalty', { min: -2, max: 2 });
  const bias = b.logit_bias;
  if (!absent(bias)) {
    if (!isObject(bias))
      throw invalid('logit_bias', `expected an object of token ids to biases, got ${kind(bias)}`);
    if (Object.keys(bias).length > 0)
      throw unsupported('logit_bias', 'token biases are not supported by this server; remove logit_bias');
  }
  const seed = number(b, 'seed', {
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  return {
    model: model(b),
    temperature: number(b, 'temperature', { min: 0, max: 2 }) ?? 1,
    topP: number(b, 'top_p', { min: 0, max: 1, minExclusive: true }) ?? 1,
    ...(seed === undefined ? {} : { seed: ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32 }),
    stop: stop(b),
    ...streaming(b),
  };
}

const tokens = (b: Body, param: string): RequestedLength | null => {
  const value = number(b, param, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  return value === undefined ? null : { value, param };
};

// Chat ------------------------------------------------------------------------------------------------------

function content(value: unknown, param: string, nullable: boolean): string {
  if (typeof value === 'string') return value;
  if (absent(value) && nullable) return '';
  if (!Array.isArray(value))
    throw invalid(param, `expected a string or an array of text parts, got ${kind(value)}`);
  if (value.length > MAX_CONTENT_PARTS) throw invalid(param, `at most ${MAX_CONTENT_PARTS} content parts`);
  const texts = value.map((part, j) => {
    const at = `${param}[${j}]`;
    if (!isObject(part))
      throw invalid(at, `expected a content part {"type":"text","text":…}, got ${kind(part)}`);
    const field = part.type === 'text' ? 'text' : part.type === 'refusal' && nullable ? 'refusal' : null;
    if (field === null) {
      if (typeof part.type !== 'string')
        throw invalid(`${at}.type`, `expected a string, got ${kind(part.type)}`);
      throw unsupported(
        `${at}.type`,
        `content parts of type '${part.type.slice(0, 32)}' are not supported; send text`,
      );
    }
    const text = part[field];
    if (typeof text !== 'string') throw invalid(`${at}.${field}`, `expected a string, got ${kind(text)}`);
    return text;
  });
  // Parts are joined by a newline, as llama.cpp's server and vLLM do.
  return texts.join('\n');
}

const toolsUnsupported = 'tool calling is not supported by this server';

function message(value: unknown, param: string): RuntimeMessage {
  if (!isObject(value))
    throw invalid(param, `expected a message object {"role","content"}, got ${kind(value)}`);
  const { role } = value;
  if (!absent(value.name) && typeof value.name !== 'string')
    throw invalid(`${param}.name`, `expected a string, got ${kind(value.name)}`);
  switch (role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: content(value.content, `${param}.content`, false) };
    case 'user':
      return { role: 'user', content: content(value.content, `${param}.content`, false) };
    case 'assistant': {
      const calls = value.tool_calls;
      if (!absent(calls) && !(Array.isArray(calls) && calls.length === 0))
        throw unsupported(`${param}.tool_calls`, toolsUnsupported);
      if (!absent(value.function_call)) throw unsupported(`${param}.function_call`, toolsUnsupported);
      return { role: 'assistant', content: content(value.content, `${param}.content`, true) };
    }
    case 'tool':
    case 'function':
      throw unsupported(`${param}.role`, `${toolsUnsupported}, so there are no '${role}' messages`);
    default:
      throw invalid(
        `${param}.role`,
        typeof role === 'string'
          ? `expected system, developer, user or assistant, got '${role.slice(0, 32)}'`
          : `expected a string, got ${kind(role)}`,
      );
  }
}

function messages(b: Body): RuntimeMessage[] {
  const value = b.messages;
  if (!Array.isArray(value)) throw invalid('messages', `expected an array of messages, got ${kind(value)}`);
  if (value.length === 0) throw invalid('messages', 'at least one message is required');
  if (value.length > MAX_MESSAGES) throw invalid('messages', `at most ${MAX_MESSAGES} messages`);
  return value.map((m, i) => message(m, `messages[${i}]`));
}

function noTools(b: Body): void {
  for (const param of ['tools', 'functions']) {
    const value = b[param];
    if (absent(value)) continue;
    if (!Array.isArray(value)) throw invalid(param, `expected an array, got ${kind(value)}`);
    if (value.length > 0) throw unsupported(param, `${toolsUnsupported}; remove ${param}`);
  }
  for (const param of ['tool_choice', 'function_call']) {
    const value = b[param];
    if (absent(value) || value === 'none' || value === 'auto') continue;
    throw unsupported(param, `${toolsUnsupported}; send 'none' or leave ${param} out`);
  }
}

/** Depth and size of a client's JSON schema, walked without recursion (the body may nest thousands deep). */
function boundedSchema(schema: Body, param: string): void {
  const stack: [unknown, number][] = [[schema, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > MAX_SCHEMA_DEPTH)
      throw invalid(param, `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
    if (++nodes > MAX_SCHEMA_NODES)
      throw invalid(param, `the schema has more than ${MAX_SCHEMA_NODES} values`);
    if (typeof value === 'object' && value !== null)
      for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
}

const SCHEMA_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function responseFormat(b: Body): GenerationOptions['responseFormat'] {
  const value = b.response_format;
  if (absent(value)) return undefined;
  if (!isObject(value)) throw invalid('response_format', `expected an object {"type":…}, got ${kind(value)}`);
  switch (value.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const param = 'response_format.json_schema';
      const spec = value.json_schema;
      if (!isObject(spec)) throw invalid(param, `expected an object {"name","schema"}, got ${kind(spec)}`);
      if (typeof spec.name !== 'string' || !SCHEMA_NAME.test(spec.name))
        throw invalid(`${param}.name`, 'required: 1 to 64 letters, digits, underscores or dashes');
      if (!absent(spec.description) && typeof spec.description !== 'string')
        throw invalid(`${param}.description`, `expected a string, got ${kind(spec.description)}`);
      if (!absent(spec.strict) && typeof spec.strict !== 'boolean')
        throw invalid(`${param}.strict`, `expected true or false, got ${kind(spec.strict)}`);
      if (!isObject(spec.schema))
        throw invalid(`${param}.schema`, `expected a JSON schema object, got ${kind(spec.schema)}`);
      boundedSchema(spec.schema, `${param}.schema`);
      return { type: 'json_schema', schema: spec.schema };
    }
    default:
      throw invalid('response_format.type', 'expected text, json_object or json_schema');
  }
}

/** POST /v1/chat/completions. */
export function parseChatRequest(value: unknown): ChatRequest {
  const b = body(value);
  const parsed = { ...sampling(b), messages: messages(b) };
  noTools(b);
  // The runtime reports no token probabilities.
  const logprobs = boolean(b, 'logprobs');
  const top = number(b, 'top_logprobs', { min: 0, max: 20, integer: true });
  if (logprobs) throw unsupported('logprobs', 'token log probabilities are not supported by this server');
  if (top !== undefined) throw invalid('top_logprobs', 'requires logprobs: true');
  // max_completion_tokens wins over the deprecated max_tokens; both must be valid when sent.
  const legacy = tokens(b, 'max_tokens');
  const maxTokens = tokens(b, 'max_completion_tokens') ?? legacy;
  const format = responseFormat(b);
  return { ...parsed, maxTokens, ...(format ? { responseFormat: format } : {}) };
}

// Completions -----------------------------------------------------------------------------------------------

function prompt(b: Body): string {
  const value = b.prompt;
  if (typeof value === 'string') return value;
  const tokenIds = 'prompts of token ids are not supported by this server; send the prompt as text';
  if (!Array.isArray(value))
    throw invalid('prompt', `expected a string or an array of one string, got ${kind(value)}`);
  if (value.length === 0) throw invalid('prompt', 'must not be an empty array');
  if (value.every((v) => typeof v === 'number')) throw unsupported('prompt', tokenIds);
  if (value.every((v) => Array.isArray(v))) throw unsupported('prompt', tokenIds);
  const bad = value.findIndex((v) => typeof v !== 'string');
  if (bad >= 0) throw invalid(`prompt[${bad}]`, `expected a string, got ${kind(value[bad])}`);
  if (value.length > 1)
    throw unsupported(
      'prompt',
      `one prompt per request is supported; got ${value.length}, send them one by one`,
    );
  return value[0] as string;
}

/** POST /v1/completions; `max_tokens` defaults to 16 as OpenAI's does. */
export function parseCompletionRequest(value: unknown): CompletionRequest {
  const b = body(value);
  const parsed = { ...sampling(b), prompt: prompt(b) };
  single(b, 'best_of');
  const echo = boolean(b, 'echo') ?? false;
  const suffix = b.suffix;
  if (!absent(suffix) && typeof suffix !== 'string')
    throw invalid('suffix', `expected a string, got ${kind(suffix)}`);
  if (typeof suffix === 'string' && suffix !== '')
    throw unsupported('suffix', 'insertion (a suffix after the completion) is not supported by this server');
  if (number(b, 'logprobs', { min: 0, max: 5, integer: true }) !== undefined)
    throw unsupported('logprobs', 'token log probabilities are not supported by this server');
  return { ...parsed, echo, maxTokens: tokens(b, 'max_tokens') ?? { value: 16, param: 'max_tokens' } };
}

// Embeddings ------------------------------------------------------------------------------------------------

function inputs(b: Body): string[] {
  const value = b.input;
  const one = (s: string, param: string) => {
    if (s.length === 0) throw invalid(param, 'an input must not be empty');
    return s;
  };
  if (typeof value === 'string') return [one(value, 'input')];
  if (!Array.isArray(value))
    throw invalid('input', `expected a string or an array of strings, got ${kind(value)}`);
  if (value.length === 0) throw invalid('input', 'must not be an empty array');
  if (value.every((v) => typeof v === 'number') || value.every((v) => Array.isArray(v)))
    throw unsupported('input', 'inputs of token ids are not supported by this server; send text');
  if (value.length > MAX_EMBEDDING_INPUTS)
    throw invalid('input', `at most ${MAX_EMBEDDING_INPUTS} inputs per request, got ${value.length}`);
  return value.map((v, i) => {
    if (typeof v !== 'string') throw invalid(`input[${i}]`, `expected a string, got ${kind(v)}`);
    return one(v, `input[${i}]`);
  });
}

/** POST /v1/embeddings. */
export function parseEmbeddingRequest(value: unknown): EmbeddingRequest {
  const b = body(value);
  const parsed = { model: model(b), inputs: inputs(b) };
  const format = b.encoding_format;
  if (!absent(format) && format !== 'float' && format !== 'base64')
    throw invalid('encoding_format', 'expected float or base64');
  const dimensions = number(b, 'dimensions', { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true }) ?? null;
  return { ...parsed, encodingFormat: format === 'base64' ? 'base64' : 'float', dimensions };
}
