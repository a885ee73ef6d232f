import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabelledExample } from './datasets.ts';
import { evaluateSafety, moderationLabel } from './evaluate.ts';
import { moderationFromReasons } from './moderate.ts';

const example = (
  label: LabelledExample['label'],
  lookalike?: LabelledExample['lookalike'],
): LabelledExample => ({
  text: '',
  label,
  ...(lookalike ? { lookalike } : {}),
  template: 't',
  variant: 'plain',
});

describe('evaluateSafety', () => {
  it('computes precision, recall, F1, flagged shares and look-alike false positives by hand', () => {
    const examples = [
      example('violence'),
      example('violence'),
      example('hate'),
      example('benign', 'violence'),
      example('benign'),
    ];
    const decisions = [
      { flagged: true, label: 'violence' as const },
      { flagged: true, label: 'hate' as const },
      { flagged: false, label: 'benign' as const },
      { flagged: true, label: 'violence' as const },
      { flagged: false, label: 'benign' as const },
    ];
    const e = evaluateSafety(examples, decisions);
    const violence = e.labels.find((l) => l.label === 'violence')!;
    assert.deepEqual(violence, { label: 'violence', support: 2, precision: 0.5, recall: 0.5, f1: 0.5 });
    assert.deepEqual(
      e.labels.find((l) => l.label === 'hate'),
      { label: 'hate', support: 1, precision: 0, recall: 0, f1: 0 },
    );
    assert.equal(e.accuracy, 2 / 5);
    assert.equal(e.flagRecall, 2 / 3);
    assert.equal(e.benignFalsePositiveRate, 1 / 2);
    assert.deepEqual(e.lookalikes, [{ label: 'violence', prompts: 1, flagged: 1, rate: 1 }]);
  });

  it('reads a moderation result as its strongest flagged label', () => {
    const result = moderationFromReasons([
      { category: 'hate', source: 'rule', id: 'a', score: 0.6 },
      { category: 'self-harm/intent', source: 'rule', id: 'b', score: 0.9 },
      { category: 'illicit', source: 'rule', id: 'c', score: 0.3 },
    ]);
    assert.deepEqual(moderationLabel(result), { flagged: true, label: 'self-harm' });
    assert.deepEqual(moderationLabel(moderationFromReasons([])), { flagged: false, label: 'benign' });
  });
});
