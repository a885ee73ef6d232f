// `ownlm dataset synth`: template-generated consultant conversations → a dataset folder.
import { parseArgs } from 'node:util';
import {
  builtinArcs,
  builtinPersonas,
  builtinTopics,
  datasetStats,
  splitConversations,
  synthesizeConversations,
  writeConversationDataset,
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';
import { fraction, integer } from './dataset-import.ts';
import { printStats } from './dataset-validate.ts';

const names = (items: { name: string }[]) => items.map((i) => i.name).join(', ');

const usage = `usage: ownlm dataset synth --out DIR --count N [options]

Generates conversations from templates: personas (the assistant's voice) × arcs (the order of turns) × topics,
deduplicated (exact and MinHash near duplicates) and PII-scrubbed like a prepared corpus, then written as a
dataset folder (train.jsonl, validation.jsonl, dataset.json) as \`ownlm dataset import\` writes it.

options:
  --out DIR           dataset folder to write (required)
  --count N           conversations to make (required)
  --seed N            seed of every choice (default 0)
  --personas A,B      personas to use (default all: ${names(builtinPersonas)})
  --arcs A,B          arcs to use (default all: ${names(builtinArcs)})
  --topics A,B        topics: built-in names or new ones (default all: ${names(builtinTopics)})
  --validation X      share held out for validation, in [0, 1) (default 0.1)
  --force             replace a non-empty output folder
  -h, --help          show this help`;

function list(value: string | undefined): string[] | undefined {
  return value?.split(',').map((s) => s.trim());
}

export const command: Command = {
  summary: 'generate a synthetic conversation dataset from persona, arc and topic templates',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', short: 'o' },
        count: { type: 'string' },
        seed: { type: 'string' },
        personas: { type: 'string' },
        arcs: { type: 'string' },
        topics: { type: 'string' },
        validation: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.out || !values.count) {
      console.error(`ownlm dataset synth: --out and --count are required\n\n${usage}`);
      return 2;
    }
    const validationFraction = fraction(values.validation ?? '0.1');
    const seed = integer(values.seed ?? '0', '--seed');
    const progress: { bar?: ProgressBar } = {};
    const { conversations, report } = await synthesizeConversations({
      count: integer(values.count, '--count'),
      seed,
      personas: list(values.personas),
      arcs: list(values.arcs),
      topics: list(values.topics),
      onProgress(done, total) {
        progress.bar ??= new ProgressBar({ label: 'generating', total, unit: 'conv' });
        progress.bar.update(done);
      },
    });
    progress.bar?.finish();
    const { train, validation } = splitConversations(conversations, { validationFraction, seed });
    const stats = datasetStats(conversations);
    writeConversationDataset(
      values.out,
      { train, validation, stats, rejected: [], sourceFormat: 'openai' },
      { overwrite: values.force },
    );
    const pii = Object.entries(report.pii).filter(([, n]) => n > 0);
    console.log(
      `conversations: ${report.generated} generated, ${report.exactDuplicates} exact and ${report.nearDuplicates} near duplicates dropped → ${train.length} train + ${validation.length} validation`,
    );
    console.log(`PII replaced: ${pii.map(([type, n]) => `${type} ${n}`).join(', ') || 'none'}`);
    printStats(stats);
    console.log(`dataset: ${values.out}`);
    return 0;
  },
};
