import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tokenizers from 'tokenizers';
import { generateTestStrings } from '../tokenizer/test-strings.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainTokenizer } from '../tokenizer/train.ts';
import { packCorpus } from './pack.ts';
import { TokenShardLoader } from './token-shards.ts';

let dir: string;
let corpus: string;
let tokenizerDir: string;
const documents: Record<string, string[]> = {};

function writeCorpus(path: string, split: string, texts: string[]): void {
  const lines = texts.map((text, i) => JSON.stringify({ id: `${split}-${i}`, source: 'generated', text }));
  writeFileSync(join(path, `${split}.jsonl`), `${lines.join('\n')}\n`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ownlm-pack-'));
  corpus = join(dir, 'corpus');
  mkdirSync(corpus);
  // Special-token text is left out so tokenizers (which always parses it) can serve as the reference.
  const texts = generateTestStrings(2400, 41).filter((t) => !t.includes('<|'));
  documents.train = texts.slice(0, 2000);
  documents.validation = texts.slice(2000);
  for (const split of ['train', 'validation']) writeCorpus(corpus, split, documents[split]);
  tokenizerDir = join(dir, 'tokenizer');
  await trainTokenizer({ inputs: [corpus], outDir: tokenizerDir, vocabSize: 1000, workers: 0 });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function readTokens(path: string, bytesPerToken: number): number[] {
  const bytes = readFileSync(path);
  const view =
    bytesPerToken === 2
      ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
      : new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return Array.from(view);
}

test('shards hold every document encoded as tokenizers encodes it, each followed by end-of-text; counts match', async () => {
  const out = join(dir, 'packed');
  const index = await packCorpus({
    corpus,
    tokenizer: tokenizerDir,
    outDir: out,
    shardTokens: 4000,
    workers: 2,
  });
  const reference = tokenizers.Tokenizer.fromFile(join(tokenizerDir, 'tokenizer.json'));
  const eot = reference.tokenToId('<|endoftext|>')!;
  assert.equal(index.tokenizer.eotId, eot);
  assert.equal(index.tokenizer.sha256, Tokenizer.fromFile(tokenizerDir).hash);
  assert.equal(index.dtype, 'uint16');
  for (const split of ['train', 'validation']) {
    const expected: number[] = [];
    for (const text of documents[split])
      expected.push(...(await reference.encode(text, null, { addSpecialTokens: false })).getIds(), eot);
    const entry = index.splits[split];
    assert.equal(entry.documents, documents[split].length);
    assert.equal(entry.tokens, expected.length);
    assert.ok(entry.shards.slice(0, -1).every((s) => s.tokens === 4000));
    const packed = entry.shards.flatMap((s) => readTokens(join(out, s.file), 2));
    assert.deepEqual(packed, expected);
  }
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')), index);
});

test('output does not depend on the number of threads', async () => {
  const one = join(dir, 'one');
  const two = join(dir, 'two');
  await packCorpus({ corpus, tokenizer: tokenizerDir, outDir: one, shardTokens: 3000, workers: 1 });
  await packCorpus({ corpus, tokenizer: tokenizerDir, outDir: two, shardTokens: 3000, workers: 2 });
  const files = readdirSync(one).sort();
  assert.deepEqual(readdirSync(two).sort(), files);
  for (const file of files)
    assert.deepEqual(readFileSync(join(two, file)), readFileSync(join(one, file)), file);
});

test('special-token text in a document stays text; ids above 65,535 switch the shards to uint32', async () => {
  const json = JSON.parse(readFileSync(join(tokenizerDir, 'tokenizer.json'), 'utf8'));
  json.added_tokens.push({
    id: 70000,
    content: '<|far|>',
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const wide = join(dir, 'wide');
  mkdirSync(wide);
  writeFileSync(join(wide, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(
    join(wide, 'tokenizer_config.json'),
    readFileSync(join(tokenizerDir, 'tokenizer_config.json')),
  );
  const small = join(dir, 'small');
  mkdirSync(small);
  const texts = ['plain words', 'a literal <|im_end|> and <|far|> inside', 'emoji 🙂 end'];
  writeCorpus(small, 'train', texts);

  const out = join(dir, 'packed-wide');
  const index = await packCorpus({ corpus: small, tokenizer: wide, outDir: out, workers: 1 });
  assert.equal(index.dtype, 'uint32');
  assert.deepEqual(Object.keys(index.splits), ['train']);
  const tokenizer = Tokenizer.fromFile(wide);
  const expected = texts.flatMap((t) => [
    ...tokenizer.encode(t, { addSpecialTokens: false, parseSpecial: false }),
    index.tokenizer.eotId,
  ]);
  const packed = readTokens(join(out, index.splits.train.shards[0].file), 4);
  assert.deepEqual(packed, expected);
  assert.ok(!packed.includes(70000) && !packed.includes(tokenizer.tokenToId('<|im_end|>')!));
});

test('a bad line is named by file, line and field; nothing is written and an existing pack is kept', async () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  writeCorpus(bad, 'train', ['fine']);
  writeFileSync(join(bad, 'validation.jsonl'), '{"text": "ok"}\n{"id": "x"}\n');
  await assert.rejects(
    packCorpus({ corpus: bad, tokenizer: tokenizerDir, outDir: join(dir, 'never'), workers: 2 }),
    (error: Error & { code?: string }) =>
      error.code === 'input-invalid' &&
      error.message.includes(`${join(bad, 'validation.jsonl')}:2: field "text"`),
  );
  assert.equal(existsSync(join(dir, 'never')), false);
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.includes('.tmp-')),
    [],
  );
  const kept = join(dir, 'packed');
  const before = readFileSync(join(kept, 'index.json'));
  await assert.rejects(
    packCorpus({ corpus, tokenizer: tokenizerDir, outDir: kept }),
    (error: Error & { code?: string }) => error.code === 'output-exists',
  );
  assert.deepEqual(readFileSync(join(kept, 'index.json')), before);
});

/** xoshiro128** (Blackman & Vigna) written from the paper, to check the loader follows its documented recipe. */
function referenceWindows(seed: number, step: number, count: number, windows: number[]): [number, number][] {
  const fmix = (x: number) => {
    let h = x >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const s0 = fmix(seed);
  const s1 = fmix(step ^ s0);
  const s2 = fmix(0 ^ s1 ^ 0x9e3779b9);
  const s = [s0, s1, s2, fmix(s2 ^ 0x7f4a7c15)];
  const next = () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const total = windows.reduce((a, b) => a + b, 0);
  return Array.from({ length: count }, () => {
    const hi = next() >>> 11;
    let start = Math.floor(((hi * 2 ** 32 + next()) / 2 ** 53) * total);
    let shard = 0;
    while (start >= windows[shard]) start -= windows[shard++];
    return [shard, start];
  });
}

test('the loader yields the documented windows, a pure function of (seed, step); targets are inputs shifted by one', () => {
  const out = join(dir, 'packed');
  const seqLen = 64;
  const batchSize = 8;
  const loader = new TokenShardLoader(out, 'train');
  const shards = loader.index.splits.train.shards.map((s) => readTokens(join(out, s.file), 2));
  const windows = shards.map((t) => Math.max(0, t.length - seqLen));
  const run = (l: TokenShardLoader, steps: number[]) =>
    steps.map((step) => l.batch({ seed: 7, step, batchSize, seqLen }));
  const first = run(loader, [0, 1, 2, 3, 4, 5]);
  loader.close();

  first.forEach(({ inputs, targets }, step) => {
    referenceWindows(7, step, batchSize, windows).forEach(([shard, start], row) => {
      const window = shards[shard].slice(start, start + seqLen + 1);
      assert.deepEqual(
        Array.from(inputs.subarray(row * seqLen, (row + 1) * seqLen)),
        window.slice(0, seqLen),
      );
      assert.deepEqual(Array.from(targets.subarray(row * seqLen, (row + 1) * seqLen)), window.slice(1));
    });
  });
  // A run resumed at step 3 in a new process sees the same batches; another seed sees others.
  const resumed = new TokenShardLoader(out, 'train', { tokenizerHash: loader.index.tokenizer.sha256 });
  assert.deepEqual(run(resumed, [3, 4, 5]), first.slice(3));
  assert.notDeepEqual(resumed.batch({ seed: 8, step: 3, batchSize, seqLen }), first[3]);
  assert.notDeepEqual(first[1], first[0]);
  resumed.close();
});

test('the loader refuses shards that do not match their index or the tokenizer', () => {
  assert.throws(
    () => new TokenShardLoader(join(dir, 'packed'), 'train', { tokenizerHash: 'other' }),
    /another tokenizer/,
  );
  assert.throws(() => new TokenShardLoader(join(dir, 'packed'), 'test'), /no split "test"/);
  const shard = join(dir, 'one', 'train-00000.bin');
  truncateSync(shard, 10);
  assert.throws(
    () => new TokenShardLoader(join(dir, 'one'), 'train'),
    (error: Error & { code?: string }) => error.code === 'input-invalid' && error.message.includes(shard),
  );
});
