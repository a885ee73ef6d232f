import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tokenizers from 'tokenizers';
import { brownCorpusSource } from '../data/demo-corpus.ts';
import { trainBpe } from './bpe-trainer.ts';
import { LLAMA3_PATTERN } from './pretokenize.ts';
import { generateTestStrings } from './test-strings.ts';
import { byteLevelBpeJson } from './tokenizer-files.ts';
import { WordCounter } from './word-counter.ts';

/** About 400 KB of text: Brown samples and generated strings full of odd characters. */
async function corpusText(): Promise<string> {
  const parts: string[] = [];
  for await (const document of brownCorpusSource().documents()) {
    parts.push(document.text);
    if (parts.length === 40) break;
  }
  parts.push(...generateTestStrings(2000, 5));
  return `${parts.join('\n')}\n`;
}

/** Trains the Hugging Face way (its Node binding: default BpeTrainer, min_frequency 0) on a text file. */
function referenceMerges(file: string): string[] {
  const tokenizer = tokenizers.Tokenizer.fromString(byteLevelBpeJson({ pattern: LLAMA3_PATTERN }));
  tokenizer.train([file]);
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-bpe-'));
  try {
    tokenizer.save(join(dir, 'tokenizer.json'));
    const saved = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    return (saved.model.merges as [string, string][]).map((pair) => pair.join(' '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('learns the same merges in the same order as the Hugging Face trainer', async () => {
  const text = await corpusText();
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-bpe-'));
  try {
    const file = join(dir, 'corpus.txt');
    writeFileSync(file, text);
    const expected = referenceMerges(file);

    // The same sequences the Hugging Face trainer reads: lines with their endings.
    const counter = new WordCounter(LLAMA3_PATTERN, [], 1_000_000);
    for (const line of text.split(/(?<=\n)/)) counter.add(line);
    const trained = trainBpe(counter.counts, { modelVocabSize: 256 + expected.length, minFrequency: 0 });
    const merges = trained.merges.map(([a, b]) => `${trained.tokens[a]} ${trained.tokens[b]}`);
    assert.ok(expected.length > 5000, `reference learned ${expected.length} merges`);
    assert.deepEqual(merges, expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the result depends only on the word counts, not on their order', () => {
  const counter = new WordCounter(LLAMA3_PATTERN, [], 1_000_000);
  for (const text of generateTestStrings(3000, 9)) counter.add(text);
  const entries = [...counter.counts];
  const reversed = new Map(entries.reverse());
  const a = trainBpe(counter.counts, { modelVocabSize: 2000, minFrequency: 2 });
  const b = trainBpe(reversed, { modelVocabSize: 2000, minFrequency: 2 });
  assert.deepEqual(a, b);
});

test('training stops at the first pair rarer than the minimum frequency', () => {
  const words = new Map([
    ['ab', 5],
    ['cd', 2],
    ['abcd', 1],
  ]);
  // Pair counts: ab 6, cd 3, bc 1; after two merges (ab, cd) occurs once.
  const trained = trainBpe(words, { modelVocabSize: 300, minFrequency: 3 });
  assert.deepEqual(
    trained.merges.map(([a, b]) => trained.tokens[a] + trained.tokens[b]),
    ['ab', 'cd'],
  );
  assert.equal(trained.tokens.length, 258);
});

test('overlapping pairs merge left to right and a word is never double counted', () => {
  const trained = trainBpe(new Map([['aaaaa', 3]]), { modelVocabSize: 259, minFrequency: 1 });
  // a a a a a → aa aa a → then (aa, a) beats (aa, aa) on equal counts because 'a' has the lower id.
  assert.deepEqual(
    trained.merges.map(([a, b]) => [trained.tokens[a], trained.tokens[b]]),
    [
      ['a', 'a'],
      ['aa', 'a'],
      ['aa', 'aaa'],
    ],
  );
});
