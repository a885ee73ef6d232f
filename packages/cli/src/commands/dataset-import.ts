// `ownlm dataset import`: a conversation file → a dataset folder (train/validation JSONL, dataset.json).
import { parseArgs } from 'node:util';
import {
  datasetStats,
  importConversationsFile,
  splitConversations,
  writeConversationDataset,
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { formatFlag, printRejected, printStats, tokenCounter } from './dataset-validate.ts';

const usage = `usage: ownlm dataset import FILE --out DIR [options]

Converts a conversation JSONL file (OpenAI chat, ShareGPT or Alpaca) into a dataset folder: train.jsonl and
validation.jsonl in the OpenAI chat form, and dataset.json (counts, statistics, rejected lines). Rejected lines
are printed as FILE:LINE: field: reason; the import fails only when no line is valid.

options:
  --out DIR           dataset folder to write (required)
  --format F          auto | openai | sharegpt | alpaca (default auto)
  --validation X      share of conversations held out for validation, in [0, 1) (default 0.1)
  --seed N            changes which conversations are held out (default 0)
  --tokenizer PATH    count tokens with this tokenizer (default: characters / 4)
  --force             replace a non-empty output folder
  -h, --help          show this help`;

export const command: Command = {
  summary: 'convert a conversation JSONL file into a train/validation dataset folder',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        format: { type: 'string' },
        validation: { type: 'string' },
        seed: { type: 'string' },
        tokenizer: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (positionals.length !== 1 || !values.out) {
      console.error(`ownlm dataset import: give one FILE and --out\n\n${usage}`);
      return 2;
    }
    const [file] = positionals;
    const validationFraction = fraction(values.validation ?? '0.1');
    const seed = integer(values.seed ?? '0', '--seed');
    const countTokens = tokenCounter(values.tokenizer);
    const result = await importConversationsFile(file, { format: formatFlag(values.format) });
    printRejected(file, result);
    if (result.conversations.length === 0) {
      throw new Error(`${file} holds no valid conversation (${result.rejected.length} line(s) rejected)`);
    }
    const { train, validation } = splitConversations(result.conversations, { validationFraction, seed });
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
};

export function fraction(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !(x >= 0 && x < 1)) {
    throw new Error(`--validation must be a number in [0, 1) (got "${value}")`);
  }
  return x;
}

export function integer(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value)) throw new Error(`${flag} must be an integer (got "${value}")`);
  return Number(value);
}
