import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import tokenizers from 'tokenizers';
import { demoCorpusSources } from '../data/demo-corpus.ts';
import { QWEN2_CPP_PATTERN } from './pretokenize.ts';
import { generateTestStrings } from './test-strings.ts';
import { byteLevelBpeJson } from './tokenizer-files.ts';
import { trainTokenizer } from './train.ts';

let dir: string;
let corpus: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ownlm-train-'));
  corpus = join(dir, 'corpus');
  mkdirSync(corpus);
  const lines = generateTestStrings(4000, 31).map((text, i) =>
    JSON.stringify({ id: `d${i}`, source: 'generated', text }),
  );
  writeFileSync(join(corpus, 'train.jsonl'), `${lines.join('\n')}\n`);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('trains from a prepared corpus in worker threads, identically to one thread; both HF libraries load the result', async () => {
  const threaded = await trainTokenizer({
    inputs: [corpus],
    outDir: join(dir, 'threaded'),
    vocabSize: 1500,
    workers: 2,
  });
  const single = await trainTokenizer({
    inputs: [corpus],
    outDir: join(dir, 'single'),
    vocabSize: 1500,
    workers: 0,
  });
  assert.equal(threaded.tokenizer.hash, single.tokenizer.hash);
  assert.equal(threaded.merges, 1500 - 256 - 3);
  const reference = tokenizers.Tokenizer.fromFile(join(dir, 'threaded', 'tokenizer.json'));
  const js = new JsTokenizer(
    JSON.parse(readFileSync(join(dir, 'threaded', 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'threaded', 'tokenizer_config.json'), 'utf8')),
  );
  for (const text of generateTestStrings(500, 32)) {
    const ids = Array.from(threaded.tokenizer.encode(text));
    assert.deepEqual(ids, (await reference.encode(text)).getIds());
    assert.deepEqual(ids, js.encode(text).ids);
  }
});

test('a bad JSONL line is named by file, line and field, and nothing is written', async () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'train.jsonl'), '{"text": "fine"}\n\n{"text": 3}\n');
  for (const workers of [0, 2]) {
    await assert.rejects(
      trainTokenizer({ inputs: [bad], outDir: join(dir, 'never'), vocabSize: 300, workers }),
      (error: Error & { code?: string }) =>
        error.code === 'input-invalid' &&
        error.message.includes(`${join(bad, 'train.jsonl')}:3: field "text"`),
    );
  }
  assert.equal(existsSync(join(dir, 'never')), false);
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.includes('.tmp-')),
    [],
  );
  await assert.rejects(
    trainTokenizer({ inputs: [join(dir, 'nowhere')], outDir: join(dir, 'never') }),
    /nowhere: no such file/,
  );
});

test('an existing tokenizer is kept unless overwrite is set', async () => {
  const out = join(dir, 'kept');
  await trainTokenizer({ inputs: [corpus], outDir: out, vocabSize: 300, workers: 0 });
  const before = readFileSync(join(out, 'tokenizer.json'));
  await assert.rejects(
    trainTokenizer({ inputs: [corpus], outDir: out, vocabSize: 400, workers: 0 }),
    (error: Error & { code?: string }) => error.code === 'output-exists',
  );
  assert.deepEqual(readFileSync(join(out, 'tokenizer.json')), before);
  await trainTokenizer({ inputs: [corpus], outDir: out, vocabSize: 400, workers: 0, overwrite: true });
  assert.notDeepEqual(readFileSync(join(out, 'tokenizer.json')), before);
});

test('maxWords bounds the count table; counts are then marked approximate', async () => {
  const result = await trainTokenizer({
    inputs: [corpus],
    outDir: join(dir, 'bounded'),
    vocabSize: 400,
    maxWords: 1000,
    workers: 0,
  });
  assert.equal(result.approximateCounts, true);
  assert.ok(result.uniqueWords <= 1000);
});

test('on held-out demo text, bytes per token are within 1% of the Hugging Face trainer at 30,000 tokens', async () => {
  const train: string[] = [];
  const heldOut: string[] = [];
  let n = 0;
  for (const source of demoCorpusSources()) {
    for await (const document of source.documents()) (n++ % 20 === 0 ? heldOut : train).push(document.text);
  }
  const file = join(dir, 'demo.txt');
  writeFileSync(file, `${train.join('\n')}\n`);

  // The Hugging Face Node binding trains with its default BpeTrainer: 30,000 tokens, no special tokens.
  const reference = tokenizers.Tokenizer.fromString(byteLevelBpeJson({ pattern: QWEN2_CPP_PATTERN }));
  reference.train([file]);
  assert.equal(reference.getVocabSize(), 30000);
  const ours = await trainTokenizer({ inputs: [file], outDir: join(dir, 'demo'), vocabSize: 30000 });
  assert.equal(ours.tokenizer.vocabSize, 30000);

  let bytes = 0;
  let ourTokens = 0;
  let referenceTokens = 0;
  for (const text of heldOut) {
    bytes += Buffer.byteLength(text);
    ourTokens += ours.tokenizer.encode(text, { parseSpecial: false }).length;
    referenceTokens += (await reference.encode(text)).getLength();
  }
  const ratio = bytes / ourTokens / (bytes / referenceTokens);
  assert.ok(
    Math.abs(ratio - 1) <= 0.01,
    `bytes/token: ours ${(bytes / ourTokens).toFixed(4)}, HF ${(bytes / referenceTokens).toFixed(4)}`,
  );
});
