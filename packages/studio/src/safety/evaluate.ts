// Figures of a safety filter on labelled prompts: precision, recall and F1 per label, how many harmful prompts
// it flags at all, and how many benign ones it flags (overall and per look-alike label). Used by
// `ownlm safety train-classifier` and the safety-classifier benchmark, for the classifier, the rules and both.
import { classifierLabels, type ClassifierLabel } from './categories.ts';
import type { LabelledExample } from './datasets.ts';
import type { ModerationResult } from './moderate.ts';

/** What a filter decided about one text: flagged or not, and the label it would give. */
export interface FilterDecision {
  flagged: boolean;
  label: ClassifierLabel;
}

export interface LabelScores {
  label: ClassifierLabel;
  /** Examples of this label. */
  support: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface SafetyEvaluation {
  examples: number;
  /** Share of examples given their exact label. */
  accuracy: number;
  /** Share of harmful examples flagged, whatever label they were given. */
  flagRecall: number;
  /** Share of benign examples flagged. */
  benignFalsePositiveRate: number;
  labels: LabelScores[];
  /** Benign look-alikes flagged, per the label they resemble. */
  lookalikes: { label: ClassifierLabel; prompts: number; flagged: number; rate: number }[];
}

/** The label a moderation result amounts to: its highest-scoring flagged label, or `benign`. */
export function moderationLabel(result: ModerationResult): FilterDecision {
  let best: ClassifierLabel = 'benign';
  for (const label of classifierLabels)
    if (
      label !== 'benign' &&
      result.categories[label] &&
      (best === 'benign' || result.category_scores[label] > result.category_scores[best])
    )
      best = label;
  return { flagged: result.flagged, label: best };
}

const ratio = (n: number, of: number) => (of > 0 ? n / of : 0);

export function evaluateSafety(
  examples: readonly LabelledExample[],
  decisions: readonly FilterDecision[],
): SafetyEvaluation {
  if (decisions.length !== examples.length)
    throw new Error(`${decisions.length} decisions for ${examples.length} examples`);
  const labels = classifierLabels.map((label) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    examples.forEach((e, i) => {
      const predicted = decisions[i].label;
      if (predicted === label && e.label === label) tp++;
      else if (predicted === label) fp++;
      else if (e.label === label) fn++;
    });
    const precision = ratio(tp, tp + fp);
    const recall = ratio(tp, tp + fn);
    const f1 = ratio(2 * precision * recall, precision + recall);
    return { label, support: tp + fn, precision, recall, f1 };
  });
  const harmful = examples.flatMap((e, i) => (e.label === 'benign' ? [] : [decisions[i]]));
  const benign = examples.flatMap((e, i) => (e.label === 'benign' ? [{ e, d: decisions[i] }] : []));
  const lookalikes = classifierLabels
    .filter((label) => label !== 'benign')
    .map((label) => {
      const group = benign.filter(({ e }) => e.lookalike === label);
      const flagged = group.filter(({ d }) => d.flagged).length;
      return { label, prompts: group.length, flagged, rate: ratio(flagged, group.length) };
    })
    .filter((l) => l.prompts > 0);
  return {
    examples: examples.length,
    accuracy: ratio(examples.filter((e, i) => decisions[i].label === e.label).length, examples.length),
    flagRecall: ratio(harmful.filter((d) => d.flagged).length, harmful.length),
    benignFalsePositiveRate: ratio(benign.filter(({ d }) => d.flagged).length, benign.length),
    labels,
    lookalikes,
  };
}
