// `ownlm dataset synth`: template-generated consultant conversations → a dataset folder.
import {
  builtinArcs,
  builtinPersonas,
  builtinTopics,
  datasetStats,
  splitConversations,
  synthesizeConversations,
  writeConversationDataset,
} from '@ownlm/studio';
import { defineCommand, positiveInteger } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';
import { validationOption } from './dataset-import.ts';
import { printStats } from './dataset-validate.ts';

const names = (items: { name: string }[]) => items.map((i) => i.name).join(', ');
const trimmed = (list: string[] | undefined) => list?.map((s) => s.trim());

export const command = defineCommand({
  name: 'dataset synth',
  summary: 'generate a synthetic conversation dataset from persona, arc and topic templates',
  usage: 'ownlm dataset synth --out DIR --count N [options]',
  about: `Generates conversations from templates: personas (the assistant's voice) × arcs (the order of turns) × topics,
deduplicated (exact and MinHash near duplicates) and PII-scrubbed like a prepared corpus, then written as a
dataset folder (train.jsonl, validation.jsonl, dataset.json) as \`ownlm dataset import\` writes it.`,
  options: {
    out: { kind: 'string', short: 'o', required: true, placeholder: 'DIR', help: 'dataset folder to write' },
    count: { kind: 'integer', required: true, rule: positiveInteger, help: 'conversations to make' },
    seed: { kind: 'integer', default: 0, help: 'seed of every choice' },
    personas: {
      kind: 'strings',
      separator: ',',
      placeholder: 'A,B',
      defaultHelp: `all: ${names(builtinPersonas)}`,
      help: 'personas to use',
    },
    arcs: {
      kind: 'strings',
      separator: ',',
      placeholder: 'A,B',
      defaultHelp: `all: ${names(builtinArcs)}`,
      help: 'arcs to use',
    },
    topics: {
      kind: 'strings',
      separator: ',',
      placeholder: 'A,B',
      defaultHelp: `all: ${names(builtinTopics)}`,
      help: 'topics: built-in names or new ones',
    },
    validation: { ...validationOption, help: 'share held out for validation' },
    force: { kind: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run({ values }) {
    const progress: { bar?: ProgressBar } = {};
    const { conversations, report } = await synthesizeConversations({
      count: values.count,
      seed: values.seed,
      personas: trimmed(values.personas),
      arcs: trimmed(values.arcs),
      topics: trimmed(values.topics),
      onProgress(done, total) {
        progress.bar ??= new ProgressBar({ label: 'generating', total, unit: 'conv' });
        progress.bar.update(done);
      },
    });
    progress.bar?.finish();
    const { train, validation } = splitConversations(conversations, {
      validationFraction: values.validation,
      seed: values.seed,
    });
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
});
