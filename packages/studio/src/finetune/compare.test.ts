import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LlamaModel, Random } from '@ownlm/engine';
import { assistantLoss } from './compare.ts';
import type { FinetuneReport } from './compare.ts';
import { renderReportHtml, renderReportMarkdown } from './report-render.ts';
import type { EncodedConversation } from './sft-encode.ts';

describe('assistantLoss', () => {
  it('is the mean negative log-likelihood of exactly the labelled tokens, computed one sequence at a time by hand', () => {
    const model = new LlamaModel(
      {
        vocab_size: 37,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        max_position_embeddings: 32,
      },
      { seed: 5 },
    );
    const random = new Random(9);
    // Awkward lengths (2, 7, 19, 11, 5) in batches of 2, so padding and a short last batch are exercised.
    const examples: EncodedConversation[] = [2, 7, 19, 11, 5].map((n) => {
      const ids = Int32Array.from({ length: n }, () => random.int(37));
      const labels = ids.map((id, t) => (t > 0 && random.int(3) > 0 ? id : -100));
      labels[n - 1] = ids[n - 1];
      return { ids, labels, truncated: false };
    });
    let nll = 0;
    let count = 0;
    for (const { ids, labels } of examples) {
      for (let t = 1; t < ids.length; t++) {
        if (labels[t] === -100) continue;
        const logits = model.nextTokenLogits(ids.subarray(0, t));
        const max = Math.max(...logits);
        const logSum = Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
        nll += logSum - logits[labels[t]];
        count++;
      }
    }
    const result = assistantLoss(model, examples, 2);
    assert.equal(result.assistantTokens, count);
    assert.equal(result.conversations, 5);
    // float32 logits summed in different orders: agreement to 1e-5 relative.
    assert.ok(Math.abs(result.loss - nll / count) < 1e-5 * (nll / count), `${result.loss} vs ${nll / count}`);
    assert.equal(result.perplexity, Math.exp(result.loss));
  });
});

describe('report rendering', () => {
  const report: FinetuneReport = {
    baseModel: 'base <1>',
    tunedModel: 'tuned',
    dataset: 'pirates & co',
    heldOut: { conversations: 3, assistantTokens: 42 },
    perplexity: { base: 20, tuned: 5 },
    scenarios: [{ prompt: 'a | b\nc', base: '<script>alert(1)</script>', tuned: '' }],
  };

  it('Markdown: the perplexity change; values HTML-escaped, pipes escaped, line breaks kept', () => {
    const md = renderReportMarkdown(report);
    assert.ok(md.includes('| 20.000 | 5.000 | -75.0% |'), md);
    assert.ok(md.includes('| a \\| b<br>c | &lt;script&gt;alert(1)&lt;/script&gt; | *(empty)* |'), md);
    assert.ok(md.includes('- Base model: base &lt;1&gt;'), md);
  });

  it('HTML: every value escaped, nothing loaded from elsewhere', () => {
    const html = renderReportHtml(report);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('Base model: base &lt;1&gt;'));
    assert.ok(html.includes('Dataset: pirates &amp; co'));
    assert.equal(/<script|src=|href=/.test(html), false);
  });
});
