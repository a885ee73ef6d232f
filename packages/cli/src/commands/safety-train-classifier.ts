// `ownlm safety train-classifier`: trains the safety classifier on its labelled prompts with ownlm's engine,
// writes classifier.safetensors and classifier.json, and prints its held-out figures.
import { join } from 'node:path';
import {
  evaluateSafety,
  moderate,
  moderationLabel,
  readLabelledExamples,
  safetyClassifierDefaults,
  safetyDataDir,
  safetyDataFiles,
  saveSafetyClassifier,
  trainSafetyClassifier,
} from '@ownlm/studio';
import { defineCommand, positiveInteger } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;

export const command = defineCommand({
  name: 'safety train-classifier',
  summary: 'train the safety classifier on the engine and write its weights',
  usage: 'ownlm safety train-classifier [--data DIR] [--out DIR] [options]',
  about: `Trains the safety classifier (hashed word and character n-grams, one gated hidden layer) on
classifier-train.jsonl, evaluates it on classifier-heldout.jsonl and writes classifier.safetensors and
classifier.json. With the defaults it rebuilds the weights shipped in packages/studio/src/safety/data/.`,
  options: {
    data: {
      kind: 'string',
      placeholder: 'DIR',
      defaultHelp: 'the shipped data folder',
      help: 'folder with classifier-train.jsonl and classifier-heldout.jsonl',
    },
    out: { kind: 'string', placeholder: 'DIR', defaultHelp: '--data', help: 'folder for the weights' },
    seed: {
      kind: 'integer',
      default: safetyClassifierDefaults.seed,
      help: 'initialization and shuffling seed',
    },
    epochs: {
      kind: 'integer',
      default: safetyClassifierDefaults.epochs,
      rule: positiveInteger,
      help: 'passes over the training examples',
    },
  },
  async run({ values }) {
    const data = values.data ?? safetyDataDir;
    const out = values.out ?? data;
    const train = readLabelledExamples(join(data, safetyDataFiles.classifierTrain));
    const heldOut = readLabelledExamples(join(data, safetyDataFiles.classifierHeldOut));
    const progress: { bar?: ProgressBar } = {};
    const started = performance.now();
    const classifier = trainSafetyClassifier({
      examples: train,
      config: { seed: values.seed, epochs: values.epochs },
      onStep: (step, steps, loss) => {
        progress.bar ??= new ProgressBar({ label: 'training', total: steps, unit: 'step' });
        progress.bar.update(step, `loss ${loss.toFixed(3)}`);
      },
    });
    progress.bar?.finish();
    saveSafetyClassifier(classifier, out);
    console.log(
      `${train.length} examples in ${((performance.now() - started) / 1000).toFixed(1)} s → ${out}`,
    );

    const policy = { rules: null, pii: [], classifier, hiddenPayloads: false };
    const evaluation = evaluateSafety(
      heldOut,
      heldOut.map((e) => moderationLabel(moderate(e.text, policy))),
    );
    console.log(`held out (${heldOut.length} examples of templates never trained on):`);
    console.log('  label              support  precision  recall      F1');
    for (const l of evaluation.labels)
      console.log(
        `  ${l.label.padEnd(18)} ${String(l.support).padStart(7)}  ${percent(l.precision).padStart(9)}  ${percent(l.recall).padStart(6)}  ${percent(l.f1).padStart(6)}`,
      );
    console.log(
      `  harmful prompts flagged ${percent(evaluation.flagRecall)}; benign prompts flagged ${percent(evaluation.benignFalsePositiveRate)}`,
    );
    return 0;
  },
});
