import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bucketLabel,
  formatCost,
  formatRate,
  lineageRows,
  parseScenarios,
  progressFraction,
} from './studio-format.ts';

test('costs, rates and progress read naturally', () => {
  assert.equal(formatCost(0), '$0.00');
  assert.equal(formatCost(1.5), '$1.50');
  assert.equal(formatCost(0.0042), '$0.0042');
  assert.equal(formatCost(3.456, 'EUR'), '3.46 EUR');
  assert.equal(formatRate(1234.4), '1,234 tokens/s');
  assert.equal(formatRate(3.14), '3.1 tokens/s');
  assert.equal(progressFraction(null), null);
  assert.equal(progressFraction({ stage: 'loading' }), null);
  assert.equal(progressFraction({ step: 5, steps: 20 }), 0.25);
  assert.equal(progressFraction({ step: 25, steps: 20 }), 1);
  assert.equal(progressFraction({ step: 3, steps: 20 }, true), 1);
});

test('histogram buckets are labelled by their token range', () => {
  assert.deepEqual([1, 2, 4, 128, 2048].map(bucketLabel), ['≤ 1', '2', '3–4', '65–128', '1,025–2,048']);
});

test('scenario prompts are the non-blank lines', () => {
  assert.deepEqual(parseScenarios(' How do I start?\n\n  What does it cost? \n'), [
    'How do I start?',
    'What does it cost?',
  ]);
  assert.equal(parseScenarios(' \n '), undefined);
});

test('lineage rows put base, dataset and job first and show objects as readable text', () => {
  assert.deepEqual(
    lineageRows({
      metrics: {
        steps: 6,
        trainLoss: 8.070202827453613,
        perplexity: { base: 6158.742519043278, tuned: 5912.1 },
      },
      zeta: 'z',
      hyperparameters: { rank: 8, targets: ['q_proj', 'v_proj'], rslora: false, context: null },
      job: 'job-1',
      base: 'tiny:1',
      dataset: 'ds-1',
    }),
    [
      ['base', 'tiny:1'],
      ['dataset', 'ds-1'],
      ['job', 'job-1'],
      ['hyperparameters', 'rank=8, targets=[q_proj, v_proj], rslora=false, context=null'],
      ['metrics', 'steps=6, trainLoss=8.0702, perplexity={base=6158.74, tuned=5912.1}'],
      ['zeta', 'z'],
    ],
  );
  assert.deepEqual(lineageRows(null), []);
});
