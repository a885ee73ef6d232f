// The /v1 request parsers on valid bodies and on a table of hostile ones: every refusal is an AppError with
// the status and `param` a client can act on, never a crash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import {
  MAX_EMBEDDING_INPUTS,
  MAX_MESSAGES,
  MAX_SCHEMA_DEPTH,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
} from './requests.ts';

const chat = (fields: Record<string, unknown>) => ({
  model: 'default',
  messages: [{ role: 'user', content: 'Hi' }],
  ...fields,
});
const completion = (fields: Record<string, unknown>) => ({ model: 'default', prompt: 'Once', ...fields });
const embedding = (fields: Record<string, unknown>) => ({ model: 'default', input: 'hello', ...fields });

/** `n` levels of `[…]` around 1, built without recursion. */
function nested(n: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < n; i++) value = [value];
  return value;
}
/** A schema nesting `n` objects deep. */
function deepSchema(n: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < n; i++) schema = { type: 'object', properties: { a: schema } };
  return schema;
}

function refused(parse: () => unknown, status: number, param: string | null) {
  assert.throws(parse, (error: unknown) => {
    assert.ok(error instanceof AppError, `an AppError, got ${String(error)}`);
    assert.equal(error.status, status, error.message);
    assert.equal(error.param, param, error.message);
    assert.ok(error.message.length < 300, 'the message does not echo a huge value');
    return true;
  });
}

test('chat: defaults, roles, content parts, max_completion_tokens over max_tokens', () => {
  const parsed = parseChatRequest({
    model: 'tiny:1',
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'system', content: [{ type: 'text', text: 'Really.' }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
        name: 'ada',
      },
      { role: 'assistant', content: null, tool_calls: [] },
      { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] },
    ],
    max_tokens: 9,
    max_completion_tokens: 5,
    unknown_field: { anything: true },
    logit_bias: {},
    tool_choice: 'none',
    presence_penalty: -2,
    frequency_penalty: 2,
  });
  assert.deepEqual(parsed, {
    model: 'tiny:1',
    temperature: 1,
    topP: 1,
    stop: [],
    stream: false,
    includeUsage: false,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Really.' },
      { role: 'user', content: 'a\nb' },
      { role: 'assistant', content: '' },
      { role: 'assistant', content: 'no' },
    ],
    maxTokens: { value: 5, param: 'max_completion_tokens' },
  });
  assert.deepEqual(parseChatRequest(chat({ max_tokens: 7 })).maxTokens, { value: 7, param: 'max_tokens' });
  assert.equal(parseChatRequest(chat({})).maxTokens, null);
});

test('chat: sampling, stop, seed, streaming and response formats', () => {
  const parsed = parseChatRequest(
    chat({
      temperature: 0,
      top_p: 0.5,
      seed: -1,
      stop: ['a', 'bc'],
      stream: true,
      stream_options: { include_usage: true },
      n: 1,
      response_format: { type: 'json_object' },
    }),
  );
  assert.equal(parsed.temperature, 0);
  assert.equal(parsed.topP, 0.5);
  assert.equal(parsed.seed, 2 ** 32 - 1, 'seeds are taken modulo 2^32, so negative ones stay distinct');
  assert.deepEqual(parsed.stop, ['a', 'bc']);
  assert.equal(parsed.stream, true);
  assert.equal(parsed.includeUsage, true);
  assert.deepEqual(parsed.responseFormat, { type: 'json_object' });
  assert.deepEqual(parseChatRequest(chat({ stop: 'x', seed: 2 ** 32 + 5 })).stop, ['x']);
  assert.equal(parseChatRequest(chat({ seed: 2 ** 32 + 5 })).seed, 5);
  assert.equal(parseChatRequest(chat({ stream: true, stream_options: {} })).includeUsage, false);
  assert.equal(parseChatRequest(chat({ response_format: { type: 'text' } })).responseFormat, undefined);
  const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
  assert.deepEqual(
    parseChatRequest(
      chat({
        response_format: { type: 'json_schema', json_schema: { name: 'person_1', schema, strict: true } },
      }),
    ).responseFormat,
    { type: 'json_schema', schema },
  );
  // null means "not sent" for every optional field, as OpenAI's clients send it.
  const nulls = parseChatRequest(
    chat({
      temperature: null,
      top_p: null,
      n: null,
      seed: null,
      stop: null,
      stream: null,
      stream_options: null,
      max_tokens: null,
      logprobs: null,
      response_format: null,
      tools: null,
    }),
  );
  assert.equal(nulls.temperature, 1);
  assert.equal(nulls.seed, undefined);
});

const longString = 'x'.repeat(5_000_000);

/** [name, body, status, param] */
const hostileChats: [string, unknown, number, string | null][] = [
  ['body is an array', [chat({})], 400, null],
  ['body is a string', 'hello', 400, null],
  ['body is null', null, 400, null],
  ['model missing', { messages: [{ role: 'user', content: 'x' }] }, 400, 'model'],
  ['model is a number', chat({ model: 1 }), 400, 'model'],
  ['model is an array', chat({ model: ['default'] }), 400, 'model'],
  ['model is empty', chat({ model: '' }), 400, 'model'],
  ['model is 5 MB long', chat({ model: longString }), 400, 'model'],
  ['messages missing', { model: 'default' }, 400, 'messages'],
  ['messages is a string', chat({ messages: 'hi' }), 400, 'messages'],
  ['messages is empty', chat({ messages: [] }), 400, 'messages'],
  [
    'too many messages',
    chat({ messages: Array(MAX_MESSAGES + 1).fill({ role: 'user', content: '' }) }),
    400,
    'messages',
  ],
  ['message is a string', chat({ messages: ['hi'] }), 400, 'messages[0]'],
  ['message is null', chat({ messages: [null] }), 400, 'messages[0]'],
  ['role missing', chat({ messages: [{ content: 'x' }] }), 400, 'messages[0].role'],
  ['role unknown', chat({ messages: [{ role: 'wizard', content: 'x' }] }), 400, 'messages[0].role'],
  ['role is an object', chat({ messages: [{ role: { a: 1 }, content: 'x' }] }), 400, 'messages[0].role'],
  ['user content missing', chat({ messages: [{ role: 'user' }] }), 400, 'messages[0].content'],
  ['user content null', chat({ messages: [{ role: 'user', content: null }] }), 400, 'messages[0].content'],
  ['content is a number', chat({ messages: [{ role: 'user', content: 5 }] }), 400, 'messages[0].content'],
  [
    'content is an object',
    chat({ messages: [{ role: 'user', content: { text: 'x' } }] }),
    400,
    'messages[0].content',
  ],
  [
    'content nested 10,000 deep',
    chat({ messages: [{ role: 'user', content: nested(10_000) }] }),
    400,
    'messages[0].content[0]',
  ],
  [
    'content part text is a number',
    chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 1 }] }] }),
    400,
    'messages[0].content[0].text',
  ],
  [
    'content part without type',
    chat({ messages: [{ role: 'user', content: [{ text: 'x' }] }] }),
    400,
    'messages[0].content[0].type',
  ],
  [
    'image content part',
    chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    501,
    'messages[0].content[0].type',
  ],
  [
    'refusal part from the user',
    chat({ messages: [{ role: 'user', content: [{ type: 'refusal', refusal: 'x' }] }] }),
    501,
    'messages[0].content[0].type',
  ],
  [
    'name is a number',
    chat({ messages: [{ role: 'user', content: 'x', name: 3 }] }),
    400,
    'messages[0].name',
  ],
  [
    'tool message',
    chat({ messages: [{ role: 'tool', tool_call_id: 'a', content: 'x' }] }),
    501,
    'messages[0].role',
  ],
  [
    'assistant tool_calls',
    chat({
      messages: [
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
      ],
    }),
    501,
    'messages[0].tool_calls',
  ],
  ['tools', chat({ tools: [{ type: 'function', function: { name: 'f' } }] }), 501, 'tools'],
  ['tools is an object', chat({ tools: { a: 1 } }), 400, 'tools'],
  ['tool_choice required', chat({ tool_choice: 'required' }), 501, 'tool_choice'],
  ['temperature negative', chat({ temperature: -0.1 }), 400, 'temperature'],
  ['temperature above 2', chat({ temperature: 2.01 }), 400, 'temperature'],
  ['temperature "NaN"', chat({ temperature: 'NaN' }), 400, 'temperature'],
  [
    'temperature 1e309 (Infinity)',
    JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e309}'),
    400,
    'temperature',
  ],
  ['temperature is a string number', chat({ temperature: '0.5' }), 400, 'temperature'],
  ['temperature is an array', chat({ temperature: [1] }), 400, 'temperature'],
  ['temperature is true', chat({ temperature: true }), 400, 'temperature'],
  ['top_p 0', chat({ top_p: 0 }), 400, 'top_p'],
  ['top_p above 1', chat({ top_p: 1.5 }), 400, 'top_p'],
  [
    'top_p -Infinity',
    JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":-1e400}'),
    400,
    'top_p',
  ],
  ['n = 2', chat({ n: 2 }), 400, 'n'],
  ['n = 0', chat({ n: 0 }), 400, 'n'],
  ['n = 1.5', chat({ n: 1.5 }), 400, 'n'],
  ['n = "1"', chat({ n: '1' }), 400, 'n'],
  ['max_tokens 0', chat({ max_tokens: 0 }), 400, 'max_tokens'],
  ['max_tokens negative', chat({ max_tokens: -5 }), 400, 'max_tokens'],
  ['max_tokens fractional', chat({ max_tokens: 2.5 }), 400, 'max_tokens'],
  ['max_tokens 1e20', chat({ max_tokens: 1e20 }), 400, 'max_tokens'],
  ['max_tokens a string', chat({ max_tokens: '10' }), 400, 'max_tokens'],
  [
    'max_completion_tokens negative',
    chat({ max_completion_tokens: -1, max_tokens: 5 }),
    400,
    'max_completion_tokens',
  ],
  [
    'max_tokens bad beside a good max_completion_tokens',
    chat({ max_completion_tokens: 5, max_tokens: 'x' }),
    400,
    'max_tokens',
  ],
  ['stop is a number', chat({ stop: 5 }), 400, 'stop'],
  ['stop has 5 strings', chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), 400, 'stop'],
  ['stop holds a number', chat({ stop: ['a', 1] }), 400, 'stop[1]'],
  ['stop holds an array', chat({ stop: [['a']] }), 400, 'stop[0]'],
  ['stop is empty', chat({ stop: '' }), 400, 'stop'],
  ['stop is 5 MB', chat({ stop: longString }), 400, 'stop'],
  ['seed fractional', chat({ seed: 1.5 }), 400, 'seed'],
  ['seed beyond 2^53', chat({ seed: 2 ** 60 }), 400, 'seed'],
  ['seed a string', chat({ seed: '42' }), 400, 'seed'],
  ['stream a string', chat({ stream: 'true' }), 400, 'stream'],
  ['stream 1', chat({ stream: 1 }), 400, 'stream'],
  ['stream_options without stream', chat({ stream_options: { include_usage: true } }), 400, 'stream_options'],
  ['stream_options a string', chat({ stream: true, stream_options: 'yes' }), 400, 'stream_options'],
  [
    'include_usage a string',
    chat({ stream: true, stream_options: { include_usage: 'yes' } }),
    400,
    'stream_options.include_usage',
  ],
  ['presence_penalty 3', chat({ presence_penalty: 3 }), 400, 'presence_penalty'],
  ['frequency_penalty "high"', chat({ frequency_penalty: 'high' }), 400, 'frequency_penalty'],
  ['logit_bias with entries', chat({ logit_bias: { '50256': -100 } }), 501, 'logit_bias'],
  ['logit_bias an array', chat({ logit_bias: [1] }), 400, 'logit_bias'],
  ['logprobs true', chat({ logprobs: true }), 501, 'logprobs'],
  ['logprobs a string', chat({ logprobs: 'yes' }), 400, 'logprobs'],
  ['top_logprobs without logprobs', chat({ top_logprobs: 2 }), 400, 'top_logprobs'],
  ['top_logprobs 21', chat({ top_logprobs: 21 }), 400, 'top_logprobs'],
  ['response_format a string', chat({ response_format: 'json' }), 400, 'response_format'],
  ['response_format unknown type', chat({ response_format: { type: 'xml' } }), 400, 'response_format.type'],
  [
    'json_schema missing',
    chat({ response_format: { type: 'json_schema' } }),
    400,
    'response_format.json_schema',
  ],
  [
    'json_schema bad name',
    chat({ response_format: { type: 'json_schema', json_schema: { name: 'a b', schema: {} } } }),
    400,
    'response_format.json_schema.name',
  ],
  [
    'json_schema name 65 chars',
    chat({ response_format: { type: 'json_schema', json_schema: { name: 'a'.repeat(65), schema: {} } } }),
    400,
    'response_format.json_schema.name',
  ],
  [
    'json_schema without schema',
    chat({ response_format: { type: 'json_schema', json_schema: { name: 'a' } } }),
    400,
    'response_format.json_schema.schema',
  ],
  [
    'json_schema schema an array',
    chat({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema: [] } } }),
    400,
    'response_format.json_schema.schema',
  ],
  [
    'json_schema strict a string',
    chat({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema: {}, strict: 'yes' } } }),
    400,
    'response_format.json_schema.strict',
  ],
  [
    'json_schema nested too deep',
    chat({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'a', schema: deepSchema(MAX_SCHEMA_DEPTH) },
      },
    }),
    400,
    'response_format.json_schema.schema',
  ],
  [
    'json_schema nested 100,000 deep',
    chat({
      response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { x: nested(100_000) } } },
    }),
    400,
    'response_format.json_schema.schema',
  ],
];

test('chat: hostile bodies are refused with the field named', () => {
  for (const [name, value, status, param] of hostileChats) {
    try {
      refused(() => parseChatRequest(value), status, param);
    } catch (error) {
      (error as Error).message = `${name}: ${(error as Error).message}`;
      throw error;
    }
  }
});

test('completions: prompt forms, echo, max_tokens default 16', () => {
  const parsed = parseCompletionRequest(completion({ echo: true, suffix: '', stop: '\n', best_of: 1 }));
  assert.deepEqual(parsed, {
    model: 'default',
    temperature: 1,
    topP: 1,
    stop: ['\n'],
    stream: false,
    includeUsage: false,
    prompt: 'Once',
    echo: true,
    maxTokens: { value: 16, param: 'max_tokens' },
  });
  assert.equal(parseCompletionRequest(completion({ prompt: ['Twice'], max_tokens: 3 })).prompt, 'Twice');
  assert.equal(parseCompletionRequest(completion({ max_tokens: 3 })).maxTokens.value, 3);
});

const hostileCompletions: [string, unknown, number, string | null][] = [
  ['prompt missing', { model: 'm' }, 400, 'prompt'],
  ['prompt a number', completion({ prompt: 5 }), 400, 'prompt'],
  ['prompt an object', completion({ prompt: { text: 'x' } }), 400, 'prompt'],
  ['prompt empty array', completion({ prompt: [] }), 400, 'prompt'],
  ['prompt token ids', completion({ prompt: [1, 2, 3] }), 501, 'prompt'],
  ['prompt arrays of token ids', completion({ prompt: [[1, 2], [3]] }), 501, 'prompt'],
  ['prompt two strings', completion({ prompt: ['a', 'b'] }), 501, 'prompt'],
  ['prompt mixed', completion({ prompt: ['a', 1] }), 400, 'prompt[1]'],
  ['max_tokens 0', completion({ max_tokens: 0 }), 400, 'max_tokens'],
  ['max_tokens "16"', completion({ max_tokens: '16' }), 400, 'max_tokens'],
  ['echo a string', completion({ echo: 'yes' }), 400, 'echo'],
  ['suffix set', completion({ suffix: 'end' }), 501, 'suffix'],
  ['suffix a number', completion({ suffix: 1 }), 400, 'suffix'],
  ['logprobs 2', completion({ logprobs: 2 }), 501, 'logprobs'],
  ['logprobs 0', completion({ logprobs: 0 }), 501, 'logprobs'],
  ['logprobs 6', completion({ logprobs: 6 }), 400, 'logprobs'],
  ['logprobs true', completion({ logprobs: true }), 400, 'logprobs'],
  ['best_of 3', completion({ best_of: 3 }), 400, 'best_of'],
  ['n 2', completion({ n: 2 }), 400, 'n'],
  ['temperature 3', completion({ temperature: 3 }), 400, 'temperature'],
  [
    'stream_options without stream',
    completion({ stream_options: { include_usage: true } }),
    400,
    'stream_options',
  ],
];

test('completions: hostile bodies are refused with the field named', () => {
  for (const [name, value, status, param] of hostileCompletions) {
    try {
      refused(() => parseCompletionRequest(value), status, param);
    } catch (error) {
      (error as Error).message = `${name}: ${(error as Error).message}`;
      throw error;
    }
  }
});

test('embeddings: input forms, encoding format, dimensions', () => {
  assert.deepEqual(parseEmbeddingRequest(embedding({})), {
    model: 'default',
    inputs: ['hello'],
    encodingFormat: 'float',
    dimensions: null,
  });
  assert.deepEqual(
    parseEmbeddingRequest(embedding({ input: ['a', 'b'], encoding_format: 'base64', dimensions: 64 })),
    { model: 'default', inputs: ['a', 'b'], encodingFormat: 'base64', dimensions: 64 },
  );
});

const hostileEmbeddings: [string, unknown, number, string | null][] = [
  ['input missing', { model: 'm' }, 400, 'input'],
  ['input empty string', embedding({ input: '' }), 400, 'input'],
  ['input empty array', embedding({ input: [] }), 400, 'input'],
  ['input an object', embedding({ input: { a: 1 } }), 400, 'input'],
  ['input with an empty string', embedding({ input: ['a', ''] }), 400, 'input[1]'],
  ['input with a null', embedding({ input: ['a', null] }), 400, 'input[1]'],
  ['input token ids', embedding({ input: [1, 2] }), 501, 'input'],
  ['input arrays of token ids', embedding({ input: [[1], [2]] }), 501, 'input'],
  ['too many inputs', embedding({ input: Array(MAX_EMBEDDING_INPUTS + 1).fill('a') }), 400, 'input'],
  ['encoding_format unknown', embedding({ encoding_format: 'int8' }), 400, 'encoding_format'],
  ['dimensions 0', embedding({ dimensions: 0 }), 400, 'dimensions'],
  ['dimensions a string', embedding({ dimensions: '64' }), 400, 'dimensions'],
  ['model missing', { input: 'x' }, 400, 'model'],
];

test('embeddings: hostile bodies are refused with the field named', () => {
  for (const [name, value, status, param] of hostileEmbeddings) {
    try {
      refused(() => parseEmbeddingRequest(value), status, param);
    } catch (error) {
      (error as Error).message = `${name}: ${(error as Error).message}`;
      throw error;
    }
  }
});
