// evaluateText against a direct computation: log-softmax of the model's logits at every scored position.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LlamaModel, noGrad } from '@ownlm/engine';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainTokenizer } from '../tokenizer/train.ts';
import { evaluateText } from './evaluate.ts';

let dir: string;
let tokenizer: Tokenizer;
const documents = [
  'The quick brown fox jumps over the lazy dog.',
  'Ünïcödé and emoji 🚀 count as bytes.',
  'short',
];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ownlm-eval-'));
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, documents.join('\n').repeat(20));
  tokenizer = (
    await trainTokenizer({
      inputs: [corpus],
      outDir: join(dir, 'tok'),
      vocabSize: 320,
      minFrequency: 1,
      workers: 0,
    })
  ).tokenizer;
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('perplexity and bits per byte equal the sum of per-position log-softmax scores', () => {
  const model = new LlamaModel(
    {
      vocab_size: tokenizer.vocabSize,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 16,
    },
    { seed: 2 },
  );
  for (const p of model.parameters.values()) p.data.forEach((x, i) => (p.data[i] = x * 10));
  const context = 7;
  const result = evaluateText(model, tokenizer, documents, { context, batch: 3 });

  const stream: number[] = [];
  for (const doc of documents) stream.push(...tokenizer.encode(doc), tokenizer.eosId!);
  let nll = 0;
  let scored = 0;
  for (let start = 0; start + 1 < stream.length; start += context) {
    const window = stream.slice(start, start + context + 1);
    const inputs = Int32Array.from(window.slice(0, -1));
    const logits = noGrad(() => model.forward(inputs, { batch: 1, seq: inputs.length })).data;
    const vocab = tokenizer.vocabSize;
    for (let t = 0; t < inputs.length; t++) {
      const row = Array.from(logits.subarray(t * vocab, (t + 1) * vocab));
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      nll += logZ - row[window[t + 1]];
      scored++;
    }
  }
  const bytes = documents.reduce((n, d) => n + Buffer.byteLength(d, 'utf8'), 0);
  assert.equal(result.tokens, stream.length - 1);
  assert.equal(result.tokens, scored);
  assert.equal(result.bytes, bytes);
  // float32 logits, float64 sums over ~60 tokens: 1e-5 relative.
  assert.ok(
    Math.abs(result.loss - nll / scored) < 1e-5 * (nll / scored),
    `loss ${result.loss} vs ${nll / scored}`,
  );
  assert.ok(Math.abs(result.bitsPerByte - nll / Math.LN2 / bytes) < 1e-5 * result.bitsPerByte);
  assert.ok(Math.abs(result.perplexity - Math.exp(nll / scored)) < 1e-4 * result.perplexity);
});
