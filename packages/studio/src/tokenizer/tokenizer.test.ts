import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { Random } from '@ownlm/engine';
import { get_encoding } from 'tiktoken';
import tokenizers from 'tokenizers';
import { brownCorpusSource } from '../data/demo-corpus.ts';
import { LLAMA3_PATTERN, QWEN2_PATTERN } from './pretokenize.ts';
import { referenceTokenizerJson } from './reference-vocabularies.ts';
import { generateTestStrings } from './test-strings.ts';
import { Tokenizer } from './tokenizer.ts';
import { trainTokenizer } from './train.ts';

let dir: string;
let ours: Tokenizer;
let hf: tokenizers.Tokenizer;
let js: JsTokenizer;
let json: Record<string, unknown>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ownlm-tokenizer-'));
  const parts: string[] = [];
  for await (const document of brownCorpusSource().documents()) {
    parts.push(document.text);
    if (parts.length === 60) break;
  }
  parts.push(...generateTestStrings(3000, 21));
  writeFileSync(join(dir, 'corpus.txt'), parts.join('\n'));
  await trainTokenizer({
    inputs: [join(dir, 'corpus.txt')],
    outDir: join(dir, 'tok'),
    vocabSize: 4000,
    workers: 0,
  });
  ours = Tokenizer.fromFile(join(dir, 'tok'));
  hf = tokenizers.Tokenizer.fromFile(join(dir, 'tok', 'tokenizer.json'));
  json = JSON.parse(readFileSync(join(dir, 'tok', 'tokenizer.json'), 'utf8'));
  js = new JsTokenizer(json, JSON.parse(readFileSync(join(dir, 'tok', 'tokenizer_config.json'), 'utf8')));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Long pieces (past the quadratic merge path) and runs that stress whitespace handling. */
function longStrings(): string[] {
  const random = new Random(4);
  const letters = 'etaoinshrdlucmfw';
  const word = (n: number) => Array.from({ length: n }, () => letters[random.int(letters.length)]).join('');
  return [
    'a'.repeat(500),
    'ab'.repeat(300),
    ' '.repeat(200) + 'x',
    '\n'.repeat(100),
    word(60),
    word(1000),
    `${word(80)} ${word(120)}\t\t${word(49)}`,
    '🙂'.repeat(40),
    '9'.repeat(99),
  ];
}

test('ids equal both Hugging Face libraries on 5,000 generated strings and long pieces', async () => {
  const texts = [...generateTestStrings(5000, 1), ...longStrings()];
  for (const text of texts) {
    const ids = Array.from(ours.encode(text));
    assert.deepEqual(ids, (await hf.encode(text)).getIds(), `tokenizers: ${JSON.stringify(text)}`);
    assert.deepEqual(ids, js.encode(text).ids, `@huggingface/tokenizers: ${JSON.stringify(text)}`);
  }
});

test('decode(encode(s)) is s for Unicode, emoji, whitespace runs and code; decoding matches tokenizers', async () => {
  const random = new Random(8);
  const anyCodePoints = Array.from({ length: 300 }, () => {
    let s = '';
    for (let i = 0; i < 40; i++) {
      const code = random.int(0x110000);
      s += code >= 0xd800 && code <= 0xdfff ? ' ' : String.fromCodePoint(code);
    }
    return s;
  });
  for (const text of [...generateTestStrings(3000, 2), ...longStrings(), ...anyCodePoints]) {
    assert.equal(ours.decode(ours.encode(text)), text, JSON.stringify(text));
  }
  // Arbitrary id sequences split UTF-8 characters; both must substitute U+FFFD the same way.
  for (let i = 0; i < 500; i++) {
    const ids = Array.from({ length: 1 + random.int(12) }, () => random.int(ours.vocabSize));
    assert.equal(ours.decode(ids), await hf.decode(ids, false), JSON.stringify(ids));
  }
});

test('special tokens: ids after the vocabulary, parsed unless parseSpecial is false, skippable on decode', async () => {
  const [eot, start, end] = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((t) => ours.tokenToId(t)!);
  assert.deepEqual([eot, start, end], [3997, 3998, 3999]);
  assert.equal(ours.vocabSize, 4000);
  assert.equal(ours.eosId, eot);
  assert.equal(ours.bosId, null);
  const text = 'a<|im_start|>user\nhi<|im_end|>\n<|endoftext|>';
  const ids = ours.encode(text);
  assert.deepEqual(Array.from(ids), (await hf.encode(text)).getIds());
  assert.ok([start, end, eot].every((id) => ids.includes(id)));
  const raw = ours.encode(text, { parseSpecial: false });
  assert.ok(![start, end, eot].some((id) => raw.includes(id)));
  assert.equal(ours.decode(raw), text);
  assert.equal(ours.decode(ids, { skipSpecialTokens: true }), await hf.decode(Array.from(ids), true));
});

test('the ChatML template renders as docs/FORMATS.md#chatml shows, encoded as tokenizers encodes it', async () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello 👋' },
  ];
  const rendered = ours.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.equal(
    rendered,
    '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello 👋<|im_end|>\n<|im_start|>assistant\n',
  );
  assert.equal(ours.applyChatTemplate(messages), rendered.slice(0, -'<|im_start|>assistant\n'.length));
  const expected = (await hf.encode(rendered, null, { addSpecialTokens: false })).getIds();
  assert.deepEqual(Array.from(ours.encodeChat(messages, { addGenerationPrompt: true })), expected);
  assert.equal(readFileSync(join(dir, 'tok', 'chat_template.jinja'), 'utf8'), ours.chatTemplate);
});

test('the hash is the sha256 of tokenizer.json; the llama.cpp pre-tokenizer is qwen2', () => {
  const expected = createHash('sha256')
    .update(readFileSync(join(dir, 'tok', 'tokenizer.json')))
    .digest('hex');
  assert.equal(ours.hash, expected);
  assert.equal(Tokenizer.fromFile(join(dir, 'tok', 'tokenizer.json')).hash, expected);
  assert.equal(ours.llamaCppPre, 'qwen2');
});

/** The trained vocabulary re-dressed as another model family's tokenizer.json. */
function variant(style: 'gpt-2' | 'qwen2' | 'llama3'): Record<string, unknown> {
  const copy = structuredClone(json) as Record<string, Record<string, unknown> | unknown>;
  const model = copy.model as Record<string, unknown>;
  const split = (pattern: string) => ({
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  });
  if (style === 'gpt-2') {
    copy.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    model.ignore_merges = false;
  } else if (style === 'qwen2') {
    copy.normalizer = { type: 'NFC' };
    copy.pre_tokenizer = split(QWEN2_PATTERN);
    model.ignore_merges = false;
  } else {
    const bos = {
      id: 4000,
      content: '<|begin_of_text|>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
    copy.added_tokens = [...(copy.added_tokens as unknown[]), bos];
    copy.pre_tokenizer = split(LLAMA3_PATTERN);
    model.ignore_merges = true;
    copy.post_processor = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos.content, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] } },
        },
      ],
    };
  }
  return copy;
}

for (const style of ['gpt-2', 'qwen2', 'llama3'] as const) {
  test(`a ${style}-style tokenizer.json encodes as tokenizers does`, async () => {
    const text = JSON.stringify(variant(style));
    const tokenizer = Tokenizer.fromJson(text);
    const reference = tokenizers.Tokenizer.fromString(text);
    assert.equal(tokenizer.llamaCppPre, style === 'llama3' ? 'llama-bpe' : style);
    for (const s of [...generateTestStrings(1500, 3), ...longStrings()]) {
      assert.deepEqual(
        Array.from(tokenizer.encode(s)),
        (await reference.encode(s)).getIds(),
        JSON.stringify(s),
      );
    }
    if (style === 'llama3') {
      assert.equal(tokenizer.bosId, 4000);
      assert.equal(tokenizer.encode('hi')[0], 4000);
      assert.notEqual(tokenizer.encode('hi', { addSpecialTokens: false })[0], 4000);
    }
  });
}

test('prefix spaces, Removed and String splits, and added-token lstrip/rstrip/single_word follow tokenizers', async () => {
  const model = { ...(json.model as Record<string, unknown>), ignore_merges: false };
  const byteLevel = (addPrefixSpace: boolean, useRegex: boolean) => ({
    type: 'ByteLevel',
    add_prefix_space: addPrefixSpace,
    trim_offsets: true,
    use_regex: useRegex,
  });
  const added = (id: number, content: string, flags: Record<string, boolean>) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: false,
    ...flags,
  });
  const variants = [
    { pre_tokenizer: byteLevel(true, true) },
    {
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: String.raw`\s+` }, behavior: 'Removed', invert: false },
          byteLevel(true, false),
        ],
      },
    },
    {
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { String: ' ' }, behavior: 'Isolated', invert: false },
          byteLevel(false, true),
        ],
      },
    },
    {
      added_tokens: [
        ...(json.added_tokens as unknown[]),
        added(4000, '<mask>', { lstrip: true, special: true }),
        added(4001, 'foo', { rstrip: true, single_word: true }),
      ],
    },
  ];
  const texts = [
    'a <mask> b',
    'x  <mask>',
    'foo bar',
    'food foo',
    'a foo  b',
    'xfoo',
    ...generateTestStrings(800, 6).map((t) => t.replace(/the|\.\.\./g, ' <mask> foo ')),
  ];
  for (const variant of variants) {
    const text = JSON.stringify({ ...json, ...variant, model });
    const tokenizer = Tokenizer.fromJson(text);
    const reference = tokenizers.Tokenizer.fromString(text);
    for (const s of texts) {
      assert.deepEqual(
        Array.from(tokenizer.encode(s)),
        (await reference.encode(s)).getIds(),
        `${Object.keys(variant)[0]}: ${JSON.stringify(s)}`,
      );
    }
  }
});

test("real vocabularies (GPT-2, cl100k_base from tiktoken's tables) encode as tiktoken and tokenizers do", async () => {
  for (const name of ['gpt2', 'cl100k_base'] as const) {
    const text = referenceTokenizerJson(name);
    const tokenizer = Tokenizer.fromJson(text);
    const reference = tokenizers.Tokenizer.fromString(text);
    const tiktoken = get_encoding(name);
    try {
      for (const s of [...generateTestStrings(1500, 4), ...longStrings()]) {
        const ids = Array.from(tokenizer.encode(s, { parseSpecial: false }));
        assert.deepEqual(
          ids,
          Array.from(tiktoken.encode_ordinary(s)),
          `tiktoken ${name}: ${JSON.stringify(s)}`,
        );
        if (!s.includes('<|'))
          assert.deepEqual(
            ids,
            (await reference.encode(s)).getIds(),
            `tokenizers ${name}: ${JSON.stringify(s)}`,
          );
      }
    } finally {
      tiktoken.free();
    }
  }
});

test('bad tokenizer files are refused with the file and the field named', () => {
  const file = join(dir, 'bad.json');
  const expectError = (content: string, code: string, ...fragments: string[]) => {
    writeFileSync(file, content);
    assert.throws(
      () => Tokenizer.fromFile(file),
      (error: Error & { code?: string }) =>
        error.code === code && [file, ...fragments].every((f) => error.message.includes(f)),
    );
  };
  expectError('{"model": ', 'input-invalid', 'not valid JSON');
  expectError(
    JSON.stringify({ ...json, model: { type: 'Unigram', vocab: [] } }),
    'input-unsupported',
    'model.type "Unigram"',
  );
  const model = json.model as Record<string, unknown>;
  expectError(
    JSON.stringify({ ...json, model: { ...model, merges: ['Ġ t', 'no such'] } }),
    'input-invalid',
    'model.merges[1]',
  );
  expectError(
    JSON.stringify({ ...json, model: { ...model, vocab: { a: -1 } } }),
    'input-invalid',
    'model.vocab["a"]',
  );
  expectError(
    JSON.stringify({ ...json, pre_tokenizer: { type: 'Metaspace' } }),
    'input-unsupported',
    'pre_tokenizer.type "Metaspace"',
  );
  assert.throws(
    () => Tokenizer.fromFile(join(dir, 'missing')),
    (error: Error & { code?: string }) => error.code === 'input-not-found',
  );
});
