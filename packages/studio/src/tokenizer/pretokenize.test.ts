import assert from 'node:assert/strict';
import { test } from 'node:test';
import tokenizers from 'tokenizers';
import { bytesToChars } from './byte-level.ts';
import {
  compilePattern,
  GPT2_PATTERN,
  LLAMA3_PATTERN,
  QWEN2_CPP_PATTERN,
  QWEN2_PATTERN,
  splitPieces,
} from './pretokenize.ts';
import { generateTestStrings } from './test-strings.ts';
import { byteLevelBpeJson } from './tokenizer-files.ts';

const utf8 = new TextEncoder();

/** Hugging Face's pre-tokenizer for a Split(pattern) + ByteLevel tokenizer.json: the reference. */
function referencePreTokenizer(pattern: string) {
  return tokenizers.Tokenizer.fromString(byteLevelBpeJson({ pattern })).getPreTokenizer()!;
}

function ourPieces(text: string, regex: RegExp): string[] {
  const pieces: string[] = [];
  splitPieces(text, regex, 'Isolated', pieces);
  return pieces.map((p) => bytesToChars(utf8.encode(p)));
}

for (const [name, pattern] of [
  ['GPT-2', GPT2_PATTERN],
  ['Llama 3', LLAMA3_PATTERN],
  ['Qwen 2', QWEN2_PATTERN],
  ['Qwen 2 (llama.cpp spelling)', QWEN2_CPP_PATTERN],
] as const) {
  test(`${name} regex splits as Hugging Face tokenizers (Oniguruma) does on 3,000 generated strings`, () => {
    const reference = referencePreTokenizer(pattern);
    const regex = compilePattern(pattern);
    for (const text of generateTestStrings(3000, 11)) {
      const expected = reference.preTokenizeString(text).map(([piece]) => piece);
      assert.deepEqual(ourPieces(text, regex), expected, JSON.stringify(text));
    }
  });
}

test('whitespace and contractions follow Oniguruma, not JavaScript', () => {
  const regex = compilePattern(LLAMA3_PATTERN);
  const split = (text: string) => {
    const pieces: string[] = [];
    splitPieces(text, regex, 'Isolated', pieces);
    return pieces;
  };
  // A run of spaces gives its last space to the next word.
  assert.deepEqual(split('a   b'), ['a', '  ', ' b']);
  // U+0085 is White_Space for Oniguruma; U+FEFF is not (JavaScript's \s says the opposite).
  assert.deepEqual(split('a\u0085\u0085b'), ['a', '\u0085', '\u0085b']);
  assert.deepEqual(split('a\ufeffb'), ['a', '\ufeffb']);
  // Case-insensitive contractions fold ſ to s; llama.cpp's spelling does not.
  assert.deepEqual(split("IT'S it'ſt"), ['IT', "'S", ' it', "'ſ", 't']);
  assert.deepEqual(split('12345'), ['123', '45']);
  const qwen: string[] = [];
  splitPieces("it'ſt 123", compilePattern(QWEN2_CPP_PATTERN), 'Isolated', qwen);
  assert.deepEqual(qwen, ['it', "'ſt", ' ', '1', '2', '3']);
});

test('constructs that cannot be translated exactly are refused by name', () => {
  for (const [pattern, construct] of [
    [String.raw`\w+`, String.raw`\w`],
    [String.raw`a++`, 'possessive'],
    [String.raw`[a[b]]`, 'nested character class'],
    [String.raw`(?i:[a-z])`, 'character class inside (?i:'],
    [String.raw`(?x)a`, 'group (?x)'],
  ]) {
    assert.throws(
      () => compilePattern(pattern, 'tokenizer.json: pre_tokenizer.pattern.Regex'),
      (error: Error & { code?: string }) =>
        error.code === 'input-unsupported' &&
        error.message.includes(construct) &&
        error.message.startsWith('tokenizer.json: pre_tokenizer'),
    );
  }
  assert.equal(compilePattern(String.raw`\p{Han}+`).exec('漢字')?.[0], '漢字');
});
