// `ownlm dataset validate`: reads a conversation file, prints its statistics and every rejected line.
import { parseArgs } from 'node:util';
import {
  conversationFormats,
  datasetStats,
  importConversationsFile,
  Tokenizer,
  type ConversationFormat,
  type DatasetStats,
  type ImportConversationsResult,
} from '@ownlm/studio';
import type { Command } from '../command.ts';

const usage = `usage: ownlm dataset validate FILE [options]

Checks a conversation JSONL file (OpenAI chat, ShareGPT or Alpaca), prints its statistics and every line it
rejects as FILE:LINE: field: reason. Exits 1 when no line is a valid conversation.

options:
  --format F          auto | openai | sharegpt | alpaca (default auto: from the first JSON object line)
  --tokenizer PATH    count tokens with this tokenizer folder or tokenizer.json (default: characters / 4)
  -h, --help          show this help`;

/** The --format flag, checked. */
export function formatFlag(value: string | undefined): ConversationFormat | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  if (!(conversationFormats as readonly string[]).includes(value)) {
    throw new Error(`--format must be auto, ${conversationFormats.join(', ')} (got "${value}")`);
  }
  return value as ConversationFormat;
}

/** A token counter from the --tokenizer flag; none means the characters / 4 estimate. */
export function tokenCounter(path: string | undefined): ((text: string) => number) | undefined {
  if (path === undefined) return undefined;
  const tokenizer = Tokenizer.fromFile(path);
  return (text) => tokenizer.encode(text).length;
}

/** Every rejected line as FILE:LINE: field: message. */
export function printRejected(file: string, { rejected }: ImportConversationsResult): void {
  for (const { line, field, message } of rejected) {
    console.log(`${file}:${line}: ${field ? `${field}: ` : ''}${message}`);
  }
}

export function printStats(stats: DatasetStats): void {
  const { messages, tokens } = stats;
  const counter = stats.tokenCounter === 'tokenizer' ? 'tokenizer' : 'estimated as characters / 4';
  console.log(
    `turns: ${stats.turns} (user ${messages.user}, assistant ${messages.assistant}; system messages ${messages.system})`,
  );
  console.log(
    `tokens (${counter}): user ${tokens.user}, assistant ${tokens.assistant}, system ${tokens.system}`,
  );
  if (stats.lengthHistogram.length === 0) return;
  console.log('tokens per conversation:');
  const most = Math.max(...stats.lengthHistogram.map((b) => b.count));
  const width = String(stats.lengthHistogram.at(-1)!.upTo).length;
  for (const { upTo, count } of stats.lengthHistogram) {
    const bar = '█'.repeat(Math.round((count / most) * 40));
    console.log(`  ≤ ${String(upTo).padStart(width)}  ${String(count).padStart(6)}  ${bar}`);
  }
}

export const command: Command = {
  summary: 'check a conversation JSONL file and print its statistics and rejected lines',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        tokenizer: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (positionals.length !== 1) {
      console.error(`ownlm dataset validate: give exactly one FILE\n\n${usage}`);
      return 2;
    }
    const [file] = positionals;
    const format = formatFlag(values.format);
    const countTokens = tokenCounter(values.tokenizer);
    const result = await importConversationsFile(file, { format });
    printRejected(file, result);
    console.log(`format: ${result.format}`);
    console.log(
      `conversations: ${result.conversations.length} valid, ${result.rejected.length} line(s) rejected`,
    );
    if (result.conversations.length === 0) {
      console.error(`ownlm dataset validate: ${file} holds no valid conversation`);
      return 1;
    }
    printStats(datasetStats(result.conversations, countTokens));
    return 0;
  },
};
