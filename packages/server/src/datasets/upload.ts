// A dataset's JSONL file (an upload, or synthesized conversations) made into a stored dataset, in one of the
// app's worker threads (../threads.ts), so that a large file never holds the event loop: parsed, validated,
// split, counted and written. The file is the only state between the two steps: the texts to count are taken
// from it first, then it is read again and stored with their counts.
import { readFileSync } from 'node:fs';
import {
  datasetStats,
  importConversations,
  splitConversations,
  writeConversationDataset,
  type Conversation,
  type ConversationFormat,
  type DatasetStats,
  type ImportConversationsResult,
  type RejectedLine,
} from '@ownlm/studio';

export interface DatasetFile {
  /** The JSONL file. */
  file: string;
  format: ConversationFormat | 'auto';
  /** The dataset's name, which errors about the file name. */
  name: string;
}

export interface StoreRequest extends DatasetFile {
  /** The dataset folder to write (published whole or not at all). */
  dir: string;
  /** Share of conversations held out for validation. */
  validation: number;
  /** Token counts of datasetTexts' texts, in its order; null counts characters / 4. */
  counts: number[] | null;
}

/** A file without one valid conversation stores nothing. */
export type StoreResult =
  | { stored: false; rejected: RejectedLine[] }
  | {
      stored: true;
      format: ConversationFormat;
      conversations: number;
      split: { train: number; validation: number };
      stats: DatasetStats;
      rejected: RejectedLine[];
    };

function read({ file, format, name }: DatasetFile): ImportConversationsResult {
  return importConversations(readFileSync(file, 'utf8'), { format, file: name });
}

/** Each message text of the conversations once, in order of first appearance. */
function distinctTexts(conversations: readonly Conversation[]): string[] {
  const texts = new Set<string>();
  for (const { messages } of conversations) for (const { content } of messages) texts.add(content);
  return [...texts];
}

/** The texts whose tokens the statistics count. */
export function datasetTexts(request: DatasetFile): string[] {
  return distinctTexts(read(request).conversations);
}

/** Splits, counts and writes the file's valid conversations into `dir`; rejected lines are kept. */
export function storeDataset(request: StoreRequest): StoreResult {
  const { conversations, rejected, format } = read(request);
  if (conversations.length === 0) return { stored: false, rejected };
  const split = splitConversations(conversations, { validationFraction: request.validation });
  let count: ((text: string) => number) | undefined;
  if (request.counts) {
    const counts = request.counts;
    const byText = new Map(distinctTexts(conversations).map((text, i) => [text, counts[i]!]));
    count = (text) => byText.get(text)!;
  }
  const stats = datasetStats(conversations, count);
  writeConversationDataset(request.dir, {
    sourceFormat: format,
    train: split.train,
    validation: split.validation,
    stats,
    rejected,
  });
  return {
    stored: true,
    format,
    conversations: conversations.length,
    split: { train: split.train.length, validation: split.validation.length },
    stats,
    rejected,
  };
}
