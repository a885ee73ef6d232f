// `ownlm dataset import`: a conversation file → a dataset folder (train/validation JSONL, dataset.json).
import {
  datasetStats,
  importConversationsFile,
  splitConversations,
  writeConversationDataset,
  type ConversationFormat,
} from '@ownlm/studio';
import { defineCommand, type Option } from '../command.ts';
import {
  formatOption,
  printRejected,
  printStats,
  tokenCounter,
  tokenizerOption,
} from './dataset-validate.ts';

/** The --validation option of the dataset commands. */
export const validationOption = {
  kind: 'number',
  placeholder: 'X',
  default: 0.1,
  rule: [(v: number) => v >= 0 && v < 1, 'a number in [0, 1)'],
  help: 'share of conversations held out for validation',
} as const satisfies Option;

export const command = defineCommand({
  name: 'dataset import',
  summary: 'convert a conversation JSONL file into a train/validation dataset folder',
  usage: 'ownlm dataset import FILE --out DIR [options]',
  about: `Converts a conversation JSONL file (OpenAI chat, ShareGPT or Alpaca) into a dataset folder: train.jsonl and
validation.jsonl in the OpenAI chat form, and dataset.json (counts, statistics, rejected lines). Rejected lines
are printed as FILE:LINE: field: reason; the import fails only when no line is valid.`,
  positionals: { name: 'FILE', min: 1, max: 1 },
  options: {
    out: { kind: 'string', short: 'o', required: true, placeholder: 'DIR', help: 'dataset folder to write' },
    format: formatOption,
    validation: validationOption,
    seed: { kind: 'integer', default: 0, help: 'changes which conversations are held out' },
    tokenizer: tokenizerOption,
    force: { kind: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run({ values, positionals: [file] }) {
    const countTokens = tokenCounter(values.tokenizer);
    const result = await importConversationsFile(file, {
      format: values.format as ConversationFormat | 'auto',
    });
    printRejected(file, result);
    if (result.conversations.length === 0) {
      throw new Error(`${file} holds no valid conversation (${result.rejected.length} line(s) rejected)`);
    }
    const { train, validation } = splitConversations(result.conversations, {
      validationFraction: values.validation,
      seed: values.seed,
    });
    const stats = datasetStats(result.conversations, countTokens);
    writeConversationDataset(
      values.out,
      { train, validation, stats, rejected: result.rejected, sourceFormat: result.format },
      { overwrite: values.force },
    );
    console.log(
      `conversations: ${result.conversations.length} ${result.format} → ${train.length} train + ${validation.length} validation; ${result.rejected.length} line(s) rejected`,
    );
    printStats(stats);
    console.log(`dataset: ${values.out}`);
    return 0;
  },
});
