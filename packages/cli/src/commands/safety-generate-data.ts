// `ownlm safety generate-data`: the safety package's datasets from its templates — the classifier's labelled
// prompts (train and held-out JSONL) and the red-team suite — deterministic from the seed.
import { safetyDataDir, SHIPPED_DATA_SEED, writeSafetyDatasets } from '@ownlm/studio';
import { defineCommand } from '../command.ts';

export const command = defineCommand({
  name: 'safety generate-data',
  summary: 'generate the safety classifier dataset and the red-team suite from their templates',
  usage: 'ownlm safety generate-data [--out DIR] [--seed N]',
  about: `Expands the templates of packages/studio/src/safety/templates/ into classifier-train.jsonl,
classifier-heldout.jsonl (held-out templates only) and redteam.jsonl. With the defaults it rewrites the files
shipped in packages/studio/src/safety/data/, byte for byte; retrain the classifier afterwards with
\`ownlm safety train-classifier\`.`,
  options: {
    out: {
      kind: 'string',
      placeholder: 'DIR',
      defaultHelp: 'the shipped data folder',
      help: 'folder to write',
    },
    seed: { kind: 'integer', default: SHIPPED_DATA_SEED, help: 'seed of every choice' },
  },
  async run({ values }) {
    const out = values.out ?? safetyDataDir;
    const counts = writeSafetyDatasets(out, values.seed);
    console.log(
      `classifier: ${counts.train} train + ${counts.heldOut} held-out examples; red-team suite: ${counts.redteam} prompts → ${out}`,
    );
    return 0;
  },
});
