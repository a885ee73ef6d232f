// `ownlm dataset validate`: reads a conversation file, prints its statistics and every rejected line.
import {
  conversationFormats,
  datasetStats,
  importConversationsFile,
  oneOf,
  Tokenizer,
  type ConversationFormat,
  type DatasetStats,
  type ImportConversationsResult,
} from '@ownlm/studio';
import { defineCommand, type Option } from '../command.ts';

/** The --format option of the dataset commands. */
export const formatOption = {
  kind: 'string',
  placeholder: 'F',
  default: 'auto',
  rule: oneOf(['auto', ...conversationFormats]),
  help: `auto | ${conversationFormats.join(' | ')}; auto takes it from the first JSON object line`,
} as const satisfies Option;

/** The --tokenizer option of the dataset commands. */
export const tokenizerOption = {
  kind: 'string',
  placeholder: 'PATH',
  defaultHelp: 'characters / 4',
  help: 'count tokens with this tokenizer folder or tokenizer.json',
} as const satisfies Option;

/** A token counter from the --tokenizer option; none means the characters / 4 estimate. */
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

export const command = defineCommand({
  name: 'dataset validate',
  summary: 'check a conversation JSONL file and print its statistics and rejected lines',
  usage: 'ownlm dataset validate FILE [options]',
  about: `Checks a conversation JSONL file (OpenAI chat, ShareGPT or Alpaca), prints its statistics and every line it
rejects as FILE:LINE: field: reason. Exits 1 when no line is a valid conversation.`,
  positionals: { name: 'FILE', min: 1, max: 1 },
  options: { format: formatOption, tokenizer: tokenizerOption },
  async run({ values, positionals: [file] }) {
    const countTokens = tokenCounter(values.tokenizer);
    const result = await importConversationsFile(file, {
      format: values.format as ConversationFormat | 'auto',
    });
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
});
