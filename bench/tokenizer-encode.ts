// tokenizer-encode: tokens per second encoding the demo corpus's nlp-corpus documents one call per document,
// ownlm's Tokenizer beside the Hugging Face `tokenizers` Node binding and `tiktoken` (WASM), measured in the
// same run on the same text; the binding's encodeBatch (Rust threads on all cores) is shown as its best case. Two vocabularies: cl100k_base (all three load it: tiktoken natively, the others
// from the same converted tokenizer.json) and a 32,000-token tokenizer ownlm trains first (ownlm and HF).
// Every library's token count is checked against ownlm's before its speed is printed.
// Usage: npm run bench -- tokenizer-encode [--repeat N]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { get_encoding, type Tiktoken } from 'tiktoken';
import tokenizers from 'tokenizers';
import { brownCorpusSource, nlpCorpusSource } from '../packages/studio/src/data/demo-corpus.ts';
import { referenceTokenizerJson } from '../packages/studio/src/tokenizer/reference-vocabularies.ts';
import { Tokenizer } from '../packages/studio/src/tokenizer/tokenizer.ts';
import { trainTokenizer } from '../packages/studio/src/tokenizer/train.ts';

const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' } } });
const repeat = Number(values.repeat);

const documents: string[] = [];
for await (const document of nlpCorpusSource().documents()) documents.push(document.text);
const megabytes = documents.reduce((sum, d) => sum + Buffer.byteLength(d), 0) / 1e6;
console.log(
  `text: nlp-corpus, ${documents.length} documents, ${megabytes.toFixed(1)} MB, one encode call per document`,
);

/** Best tokens/s over `repeat` passes (each pass after one warm-up on all documents), and the token count. */
async function measure(encode: (text: string) => number | Promise<number>): Promise<[number, number]> {
  let tokens = 0;
  for (const d of documents) tokens += await encode(d);
  let best = 0;
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    for (const d of documents) await encode(d);
    best = Math.max(best, tokens / ((performance.now() - start) / 1000));
  }
  return [best, tokens];
}

/** Best tokens/s of `repeat` calls encoding all documents in one batch (after a warm-up call). */
async function measureBatch(encodeAll: () => Promise<number>): Promise<[number, number]> {
  const tokens = await encodeAll();
  let best = 0;
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    await encodeAll();
    best = Math.max(best, tokens / ((performance.now() - start) / 1000));
  }
  return [best, tokens];
}

async function compare(
  title: string,
  load: () => Tokenizer,
  hf: tokenizers.Tokenizer,
  tiktoken?: Tiktoken,
): Promise<void> {
  console.log(`\n${title}`);
  // ownlm caches each distinct piece's ids (bounded); a fresh instance shows the rate before the cache fills.
  const options = { addSpecialTokens: false, parseSpecial: false };
  const fresh = load();
  const start = performance.now();
  let coldTokens = 0;
  for (const d of documents) coldTokens += fresh.encode(d, options).length;
  const coldRate = coldTokens / ((performance.now() - start) / 1000);
  const ours = load();
  const [oursRate, oursTokens] = await measure((text) => ours.encode(text, options).length);
  console.log(`  ownlm Tokenizer (1 thread)            ${(oursRate / 1e6).toFixed(2)} M tokens/s`);
  console.log(`  ownlm, first pass on a fresh instance ${(coldRate / 1e6).toFixed(2)} M tokens/s`);
  const hfOptions = { addSpecialTokens: false };
  const peers: [string, () => Promise<[number, number]>][] = [
    [
      'tokenizers encode (per document)',
      () => measure(async (text) => (await hf.encode(text, null, hfOptions)).getLength()),
    ],
    [
      'tokenizers encodeBatch (all cores)',
      () =>
        measureBatch(async () =>
          (await hf.encodeBatch(documents, hfOptions)).reduce((sum, e) => sum + e.getLength(), 0),
        ),
    ],
  ];
  if (tiktoken)
    peers.push([
      'tiktoken WASM (per document)',
      () => measure((text) => tiktoken.encode_ordinary(text).length),
    ]);
  for (const [name, run] of peers) {
    const [rate, tokens] = await run();
    if (tokens !== oursTokens || coldTokens !== oursTokens)
      throw new Error(`${name} produced ${tokens} tokens, ownlm ${oursTokens}: the encoders disagree`);
    console.log(
      `  ${name.padEnd(37)} ${(rate / 1e6).toFixed(2)} M tokens/s   ownlm / this = ${(oursRate / rate).toFixed(2)}`,
    );
  }
}

const cl100kJson = referenceTokenizerJson('cl100k_base');
const tiktoken = get_encoding('cl100k_base');
await compare(
  'cl100k_base (100,277 tokens)',
  () => Tokenizer.fromJson(cl100kJson),
  tokenizers.Tokenizer.fromString(cl100kJson),
  tiktoken,
);
tiktoken.free();

const dir = mkdtempSync(join(tmpdir(), 'ownlm-bench-encode-'));
try {
  const trainingText = join(dir, 'brown.txt');
  const brown: string[] = [];
  for await (const document of brownCorpusSource().documents()) brown.push(document.text);
  writeFileSync(trainingText, brown.join('\n'));
  await trainTokenizer({ inputs: [trainingText], outDir: join(dir, 'tokenizer'), vocabSize: 32000 });
  await compare(
    'ownlm-trained on Brown (32,000 tokens)',
    () => Tokenizer.fromFile(join(dir, 'tokenizer')),
    tokenizers.Tokenizer.fromFile(join(dir, 'tokenizer', 'tokenizer.json')),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
