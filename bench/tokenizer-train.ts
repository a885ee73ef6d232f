// tokenizer-train: seconds to train a 30,000-token byte-level BPE on the bundled demo corpus with ownlm and
// with the Hugging Face `tokenizers` Node binding (its default BpeTrainer: 30,000 tokens, min_frequency 0),
// on the same file, same pre-tokenizer, in the same run; the ratio ownlm / HF (target ≤ 2). Also prints
// bytes per token of both on held-out documents (every 20th), which should agree within 1%.
// Usage: npm run bench -- tokenizer-train [--repeat N]
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import tokenizers from 'tokenizers';
import { demoCorpusSources } from '../packages/studio/src/data/demo-corpus.ts';
import { QWEN2_CPP_PATTERN } from '../packages/studio/src/tokenizer/pretokenize.ts';
import { byteLevelBpeJson } from '../packages/studio/src/tokenizer/tokenizer-files.ts';
import { trainTokenizer } from '../packages/studio/src/tokenizer/train.ts';
import type { Tokenizer } from '../packages/studio/src/tokenizer/tokenizer.ts';

const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' } } });
const repeat = Number(values.repeat);

const dir = mkdtempSync(join(tmpdir(), 'ownlm-bench-train-'));
try {
  const train: string[] = [];
  const heldOut: string[] = [];
  let n = 0;
  for (const source of demoCorpusSources()) {
    for await (const document of source.documents()) (n++ % 20 === 0 ? heldOut : train).push(document.text);
  }
  const file = join(dir, 'demo.txt');
  writeFileSync(file, `${train.join('\n')}\n`);
  console.log(
    `corpus: demo (Brown + nlp-corpus), ${(statSync(file).size / 1e6).toFixed(1)} MB, ${train.length} documents; ${availableParallelism()} cores`,
  );

  const referenceJson = byteLevelBpeJson({ pattern: QWEN2_CPP_PATTERN });

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const oursTimes: number[] = [];
  const hfTimes: number[] = [];
  let ours: Tokenizer | null = null;
  let reference: tokenizers.Tokenizer | null = null;
  // Alternate the two so background load on a shared machine hits both alike.
  for (let i = 0; i < repeat; i++) {
    let start = performance.now();
    reference = tokenizers.Tokenizer.fromString(referenceJson);
    reference.train([file]);
    hfTimes.push((performance.now() - start) / 1000);

    start = performance.now();
    const result = await trainTokenizer({
      inputs: [file],
      outDir: join(dir, 'ours'),
      vocabSize: 30000,
      minFrequency: 0,
      overwrite: true,
    });
    oursTimes.push((performance.now() - start) / 1000);
    ours = result.tokenizer;
  }
  const oursSeconds = median(oursTimes);
  const hfSeconds = median(hfTimes);
  console.log(
    `ownlm trainTokenizer           ${oursSeconds.toFixed(2)} s  (runs: ${oursTimes.map((t) => t.toFixed(2)).join(', ')})`,
  );
  console.log(
    `tokenizers (HF Node binding)   ${hfSeconds.toFixed(2)} s  (runs: ${hfTimes.map((t) => t.toFixed(2)).join(', ')})`,
  );
  console.log(`ratio ownlm / HF = ${(oursSeconds / hfSeconds).toFixed(2)} (target ≤ 2)`);

  let bytes = 0;
  let oursTokens = 0;
  let hfTokens = 0;
  for (const text of heldOut) {
    bytes += Buffer.byteLength(text);
    oursTokens += ours!.encode(text, { parseSpecial: false }).length;
    hfTokens += (await reference!.encode(text)).getLength();
  }
  const oursBpt = bytes / oursTokens;
  const hfBpt = bytes / hfTokens;
  console.log(
    `held-out bytes/token: ownlm ${oursBpt.toFixed(4)}, HF ${hfBpt.toFixed(4)} (ownlm / HF = ${(oursBpt / hfBpt).toFixed(4)})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
