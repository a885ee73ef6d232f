import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataError } from '../data/errors.ts';
import type { ConversationFormat } from './conversation.ts';
import { importConversations, importConversationsFile } from './import-conversations.ts';

function jsonl(...lines: unknown[]): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
}

function importOne(line: unknown, format: ConversationFormat | 'auto' = 'auto') {
  return importConversations(jsonl(line), { format });
}

describe('importConversations: conversion (the line shapes of docs/FORMATS.md#conversation-datasets)', () => {
  it('keeps OpenAI chat lines, with weight on assistant turns, and ignores tools keys', () => {
    const line = {
      messages: [
        { role: 'system', content: 'You are a consultant.' },
        { role: 'user', content: 'Where do we start?' },
        { role: 'assistant', content: 'With the numbers.', weight: 0 },
        { role: 'user', content: 'And then?' },
        { role: 'assistant', content: 'With the people.', weight: 1 },
      ],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: {} } }],
      parallel_tool_calls: false,
    };
    const result = importOne(line);
    assert.equal(result.format, 'openai');
    assert.deepEqual(result.rejected, []);
    assert.deepEqual(result.conversations, [{ messages: line.messages }]);
  });

  it('converts ShareGPT: top-level system first, human → user, gpt → assistant; tools ignored', () => {
    const result = importOne({
      system: 'Be brief.',
      conversations: [
        { from: 'human', value: 'Hi' },
        { from: 'gpt', value: 'Hello.' },
        { from: 'human', value: 'Bye' },
        { from: 'gpt', value: 'Goodbye.' },
      ],
      tools: '[]',
    });
    assert.equal(result.format, 'sharegpt');
    assert.deepEqual(result.conversations, [
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Bye' },
          { role: 'assistant', content: 'Goodbye.' },
        ],
      },
    ]);
    const inline = importOne({
      conversations: [
        { from: 'system', value: 'Be brief.' },
        { from: 'human', value: 'Hi' },
        { from: 'gpt', value: 'Hello.' },
      ],
    });
    assert.deepEqual(inline.conversations[0].messages[0], { role: 'system', content: 'Be brief.' });
  });

  it('converts Alpaca: system, history pairs, instruction + blank line + input, output', () => {
    const result = importOne({
      system: 'You answer in French.',
      history: [['Say hi', 'Salut']],
      instruction: 'Translate the sentence.',
      input: 'Good morning',
      output: 'Bonjour',
    });
    assert.equal(result.format, 'alpaca');
    assert.deepEqual(result.conversations[0].messages, [
      { role: 'system', content: 'You answer in French.' },
      { role: 'user', content: 'Say hi' },
      { role: 'assistant', content: 'Salut' },
      { role: 'user', content: 'Translate the sentence.\n\nGood morning' },
      { role: 'assistant', content: 'Bonjour' },
    ]);
    // An empty input (as in most of stanford_alpaca's alpaca_data.json) adds nothing to the instruction.
    const bare = importOne({
      instruction: 'Give three tips.',
      input: '',
      output: '1. Eat. 2. Sleep. 3. Move.',
    });
    assert.deepEqual(bare.conversations[0].messages, [
      { role: 'user', content: 'Give three tips.' },
      { role: 'assistant', content: '1. Eat. 2. Sleep. 3. Move.' },
    ]);
  });

  it('detects the format at the first object line; an explicit format reads every line as that format', () => {
    const alpaca = { instruction: 'Q', output: 'A' };
    const openai = {
      messages: [
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: 'A' },
      ],
    };
    const auto = importConversations(jsonl('not json', alpaca, openai), { format: 'auto' });
    assert.equal(auto.format, 'alpaca');
    assert.equal(auto.conversations.length, 1);
    assert.deepEqual(auto.rejected.slice(1), [
      {
        line: 3,
        field: 'instruction',
        message: 'is missing (this line looks like openai; one file holds one format)',
      },
    ]);
    const forced = importConversations(jsonl(alpaca, openai), { format: 'openai' });
    assert.equal(forced.format, 'openai');
    assert.deepEqual(forced.rejected, [
      {
        line: 1,
        field: 'messages',
        message: 'is missing (this line looks like alpaca; one file holds one format)',
      },
    ]);
  });

  it('numbers lines from 1, skips blank lines silently, and accepts CRLF and a byte-order mark', () => {
    const good = {
      messages: [
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: 'A' },
      ],
    };
    const text = `\uFEFF${JSON.stringify(good)}\r\n\r\n   \n{oops}\r\n${JSON.stringify(good)}\n`;
    const result = importConversations(text, { format: 'auto' });
    assert.equal(result.conversations.length, 2);
    assert.deepEqual(
      result.rejected.map((r) => r.line),
      [4],
    );
  });

  it('refuses an unknown format option naming the file', () => {
    assert.throws(
      () => importConversations('', { format: 'csv' as 'openai', file: 'x.jsonl' }),
      (error: DataError) =>
        error.code === 'options-invalid' && /x\.jsonl: unknown dataset format "csv"/.test(error.message),
    );
  });
});

describe('importConversations: every rejection reason, with line and field', () => {
  const user = { role: 'user', content: 'Q' };
  const assistant = { role: 'assistant', content: 'A' };
  const cases: [string, unknown, ConversationFormat, { field?: string; message: RegExp }][] = [
    ['bad JSON', '{"messages": [', 'openai', { message: /^invalid JSON: / }],
    ['not an object', '[1, 2]', 'openai', { message: /^must be a JSON object, got an array$/ }],
    ['a bare string', '"hello"', 'openai', { message: /^must be a JSON object, got string "hello"$/ }],
    ['messages missing', { text: 'x' }, 'openai', { field: 'messages', message: /^is missing$/ }],
    ['messages not an array', { messages: {} }, 'openai', { field: 'messages', message: /must be an array/ }],
    ['messages empty', { messages: [] }, 'openai', { field: 'messages', message: /^is empty$/ }],
    [
      'message not an object',
      { messages: [user, 'A'] },
      'openai',
      { field: 'messages[1]', message: /must be an object/ },
    ],
    [
      'unknown role, named',
      { messages: [user, { role: 'tool', content: '{}' }, assistant] },
      'openai',
      { field: 'messages[1].role', message: /^unknown role "tool" \(expected system, user or assistant\)$/ },
    ],
    [
      'role missing',
      { messages: [{ content: 'Q' }, assistant] },
      'openai',
      { field: 'messages[0].role', message: /must be a string, got undefined/ },
    ],
    [
      'empty content',
      { messages: [user, { role: 'assistant', content: '  \n' }] },
      'openai',
      { field: 'messages[1].content', message: /^is empty$/ },
    ],
    [
      'non-string content (content parts)',
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'Q' }] }, assistant] },
      'openai',
      { field: 'messages[0].content', message: /^must be a string, got an array$/ },
    ],
    [
      'null content (a tool call)',
      { messages: [user, { role: 'assistant', content: null, tool_calls: [] }] },
      'openai',
      { field: 'messages[1].content', message: /^must be a string, got null$/ },
    ],
    ['no assistant turn', { messages: [user] }, 'openai', { message: /^no assistant turn to train on$/ }],
    [
      'weight not 0/1',
      { messages: [user, { ...assistant, weight: 0.5 }] },
      'openai',
      { field: 'messages[1].weight', message: /^must be 0 or 1, got number 0\.5$/ },
    ],
    [
      'weight as a string',
      { messages: [user, { ...assistant, weight: '1' }] },
      'openai',
      { field: 'messages[1].weight', message: /^must be 0 or 1, got string "1"$/ },
    ],
    [
      'weight on a user message',
      { messages: [{ ...user, weight: 1 }, assistant] },
      'openai',
      { field: 'messages[0].weight', message: /^is only allowed on assistant messages$/ },
    ],
    [
      'system not first',
      { messages: [user, { role: 'system', content: 'S' }, assistant] },
      'openai',
      { field: 'messages[1].role', message: /^a system message may only come first/ },
    ],
    [
      'ShareGPT function_call turn',
      {
        conversations: [
          { from: 'human', value: 'Q' },
          { from: 'function_call', value: '{}' },
          { from: 'gpt', value: 'A' },
        ],
      },
      'sharegpt',
      { field: 'conversations[1].from', message: /^"function_call" turns \(tool use\) are not supported/ },
    ],
    [
      'ShareGPT observation turn',
      {
        conversations: [
          { from: 'human', value: 'Q' },
          { from: 'observation', value: '{}' },
          { from: 'gpt', value: 'A' },
        ],
      },
      'sharegpt',
      { field: 'conversations[1].from', message: /^"observation" turns \(tool use\) are not supported/ },
    ],
    [
      'ShareGPT unknown role, named',
      {
        conversations: [
          { from: 'user', value: 'Q' },
          { from: 'gpt', value: 'A' },
        ],
      },
      'sharegpt',
      { field: 'conversations[0].from', message: /^unknown role "user" \(expected system, human or gpt\)$/ },
    ],
    [
      'ShareGPT empty value',
      {
        conversations: [
          { from: 'human', value: '' },
          { from: 'gpt', value: 'A' },
        ],
      },
      'sharegpt',
      { field: 'conversations[0].value', message: /^is empty$/ },
    ],
    [
      'ShareGPT system turn after a top-level system',
      {
        system: 'S',
        conversations: [
          { from: 'system', value: 'T' },
          { from: 'human', value: 'Q' },
          { from: 'gpt', value: 'A' },
        ],
      },
      'sharegpt',
      { field: 'conversations[0].from', message: /^a system message may only come first/ },
    ],
    [
      'ShareGPT no assistant turn',
      { conversations: [{ from: 'human', value: 'Q' }] },
      'sharegpt',
      { message: /^no assistant turn to train on$/ },
    ],
    ['Alpaca output missing', { instruction: 'Q' }, 'alpaca', { field: 'output', message: /^is missing$/ }],
    [
      'Alpaca empty output',
      { instruction: 'Q', output: '' },
      'alpaca',
      { field: 'output', message: /^is empty$/ },
    ],
    [
      'Alpaca empty instruction',
      { instruction: ' ', output: 'A' },
      'alpaca',
      { field: 'instruction', message: /^is empty$/ },
    ],
    [
      'Alpaca non-string input',
      { instruction: 'Q', input: 3, output: 'A' },
      'alpaca',
      { field: 'input', message: /must be a string, got number 3/ },
    ],
    [
      'Alpaca history not pairs',
      { instruction: 'Q', output: 'A', history: [['only one']] },
      'alpaca',
      { field: 'history[0]', message: /must be a \[question, answer\] pair/ },
    ],
    [
      'auto: an object of no known format',
      { prompt: 'Q', completion: 'A' },
      'auto' as ConversationFormat,
      { message: /^not a conversation: expected a "messages", "conversations" or "instruction" key$/ },
    ],
  ];
  for (const [name, line, format, expected] of cases) {
    it(name, () => {
      const good = jsonl({ messages: [user, assistant] });
      // Always line 3: OpenAI lines follow a valid line (detected, not forced) and a blank one.
      const text = format === 'openai' ? `${good}\n\n${jsonl(line)}` : `\n\n${jsonl(line)}`;
      const result = importConversations(text, { format: format === 'openai' ? 'auto' : format });
      assert.equal(result.rejected.length, 1, JSON.stringify(result.rejected));
      const [rejection] = result.rejected;
      assert.equal(rejection.line, 3);
      assert.equal(rejection.field, expected.field);
      assert.match(rejection.message, expected.message);
    });
  }
});

describe('importConversationsFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-import-conversations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same result as the in-memory import, across 1 MB read chunks', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const filler = 'word '.repeat(i % 193);
      lines.push(
        i % 500 === 7
          ? '{"messages": "broken"'
          : JSON.stringify({
              conversations: [
                { from: 'human', value: `Question ${i} ${filler}` },
                { from: 'gpt', value: `Answer ${i}` },
              ],
            }),
      );
    }
    const text = `${lines.join('\r\n')}\r\n`;
    assert.ok(text.length > 1 << 20, 'the file spans several read chunks');
    const path = join(dir, 'big.jsonl');
    writeFileSync(path, text);
    const fromFile = await importConversationsFile(path, { format: 'auto' });
    assert.deepEqual(fromFile, importConversations(text, { format: 'auto' }));
    assert.equal(fromFile.conversations.length, 2994);
    assert.deepEqual(
      fromFile.rejected.map((r) => r.line),
      [8, 508, 1008, 1508, 2008, 2508],
    );
  });

  it('names a missing file', async () => {
    await assert.rejects(
      importConversationsFile(join(dir, 'nope.jsonl'), { format: 'auto' }),
      (error: DataError) =>
        error.code === 'input-not-found' && /nope\.jsonl: no such file/.test(error.message),
    );
  });
});
