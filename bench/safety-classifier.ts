// safety-classifier: the moderation filters on the shipped labelled prompts — precision, recall and F1 per label
// on the held-out templates, the share of harmful prompts flagged, and the share of benign look-alikes flagged
// (false positives), per look-alike label — for the rules alone (the peer), the classifier alone, and both,
// measured in the same run. Then the red-team suite, worded apart from the classifier's templates, as an
// out-of-distribution view: the share of attacks and of benign look-alikes flagged per category.
// The classifier is trained here, from the shipped train file with the shipped config (its time is printed),
// and checked against the shipped weights.
// Usage: npm run bench -- safety-classifier
import { join } from 'node:path';
import { shippedClassifier, trainSafetyClassifier } from '../packages/studio/src/safety/classifier.ts';
import {
  readLabelledExamples,
  readRedteamSuite,
  redteamCategories,
  safetyDataDir,
  safetyDataFiles,
} from '../packages/studio/src/safety/datasets.ts';
import {
  evaluateSafety,
  moderationLabel,
  type SafetyEvaluation,
} from '../packages/studio/src/safety/evaluate.ts';
import { moderate, type ModerationPolicy } from '../packages/studio/src/safety/moderate.ts';
import { shippedRules } from '../packages/studio/src/safety/rules.ts';

const train = readLabelledExamples(join(safetyDataDir, safetyDataFiles.classifierTrain));
const heldOut = readLabelledExamples(join(safetyDataDir, safetyDataFiles.classifierHeldOut));
const suite = readRedteamSuite();

const shipped = shippedClassifier();
const started = performance.now();
const classifier = trainSafetyClassifier({ examples: train, config: shipped.config });
const trainSeconds = (performance.now() - started) / 1000;
const probes = heldOut.map((e) => e.text);
const sameLabels = classifier
  .predict(probes)
  .filter((p, i) => p.label === shipped.predict([probes[i]])[0].label).length;
console.log(
  `classifier: trained in ${trainSeconds.toFixed(1)} s on ${train.length} examples (${shipped.config.epochs} epochs, ` +
    `${shipped.config.buckets} buckets × ${shipped.config.hidden}); same label as the shipped weights on ${sameLabels}/${probes.length} held-out texts`,
);
console.log(
  `held out: ${heldOut.length} examples from templates never trained on; red-team suite: ${suite.length} prompts\n`,
);

const rules = shippedRules();
const filters: [string, ModerationPolicy][] = [
  ['rules (peer)', { rules, pii: [], classifier: null, hiddenPayloads: true }],
  ['classifier', { rules: null, pii: [], classifier, hiddenPayloads: false }],
  ['rules + classifier', { rules, pii: [], classifier, hiddenPayloads: true }],
];

const percent = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(6);
const results = filters.map(([name, policy]) => {
  // One pass first, so the timed pass sees compiled regular expressions and warm kernels.
  for (const e of heldOut) moderate(e.text, policy);
  const t0 = performance.now();
  const decisions = heldOut.map((e) => moderationLabel(moderate(e.text, policy)));
  const microseconds = ((performance.now() - t0) * 1000) / heldOut.length;
  const redteam = redteamCategories.map((category) => {
    const share = (kind: string) => {
      const prompts = suite.filter((p) => p.category === category && p.kind === kind);
      return prompts.filter((p) => moderate(p.prompt, policy).flagged).length / prompts.length;
    };
    return { category, attacks: share('attack'), benign: share('benign') };
  });
  return { name, evaluation: evaluateSafety(heldOut, decisions), microseconds, redteam };
});

const columns = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(26) : c.padStart(24))).join('');
const row = (title: string, cell: (e: SafetyEvaluation, i: number) => string) =>
  console.log(columns([title, ...results.map((r, i) => cell(r.evaluation, i))]));

console.log('held-out templates: precision / recall / F1 per label');
console.log(columns(['', ...results.map((r) => r.name)]));
for (const [index, { label }] of results[0].evaluation.labels.entries()) {
  row(label, (e) => {
    const l = e.labels[index];
    return `${percent(l.precision)} ${percent(l.recall)} ${percent(l.f1)}`;
  });
}
row('exact label', (e) => percent(e.accuracy));
row('harmful flagged', (e) => percent(e.flagRecall));
row('benign flagged', (e) => percent(e.benignFalsePositiveRate));
console.log('\nbenign look-alikes flagged (false positives), by the label they resemble');
for (const [index, { label, prompts }] of results[0].evaluation.lookalikes.entries())
  row(
    `${label} (${prompts})`,
    (e) => `${e.lookalikes[index].flagged} = ${percent(e.lookalikes[index].rate)}`,
  );
console.log('\nred-team suite (other wording): attacks flagged / benign look-alikes flagged');
for (const [index, category] of redteamCategories.entries())
  console.log(
    columns([
      category,
      ...results.map((r) => `${percent(r.redteam[index].attacks)} / ${percent(r.redteam[index].benign)}`),
    ]),
  );
console.log(`\n${columns(['µs per text', ...results.map((r) => r.microseconds.toFixed(0))])}`);

const [peer, , both] = results.map((r) => r.evaluation);
const macroF1 = (e: SafetyEvaluation) => e.labels.reduce((s, l) => s + l.f1, 0) / e.labels.length;
console.log(
  `\nrules + classifier against rules alone: harmful flagged ${(both.flagRecall / peer.flagRecall).toFixed(2)}x ` +
    `(${percent(peer.flagRecall).trim()} → ${percent(both.flagRecall).trim()}), macro F1 ${(macroF1(both) / macroF1(peer)).toFixed(2)}x ` +
    `(${percent(macroF1(peer)).trim()} → ${percent(macroF1(both)).trim()}), benign flagged ${percent(peer.benignFalsePositiveRate).trim()} → ${percent(both.benignFalsePositiveRate).trim()}`,
);
