// A conversation dataset on disk: train.jsonl and validation.jsonl in the OpenAI chat form, and dataset.json
// (counts, statistics, the rejected lines of the import). The folder is published whole or not at all.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../data/errors.ts';
import { abandonOutput, finishOutput, startOutput } from '../tokenizer/publish.ts';
import type { Conversation, ConversationFormat, RejectedLine } from './conversation.ts';
import type { DatasetStats } from './dataset-stats.ts';
import { conversationFormats, importConversations } from './import-conversations.ts';

export const datasetFiles = {
  train: 'train.jsonl',
  validation: 'validation.jsonl',
  info: 'dataset.json',
};

export interface SplitOptions {
  /** Share of conversations for validation, in [0, 1). */
  validationFraction: number;
  /** Changes which conversations are held out; the same seed gives the same split everywhere. */
  seed?: number;
}

export interface ConversationSplit {
  train: Conversation[];
  validation: Conversation[];
}

/** The conversation's place in [0, 1) for the split: like the corpus pipeline, the low 32 bits of a SHA-1's first 64. */
function splitPoint(conversation: Conversation, seed: number): number {
  const digest = createHash('sha1').update(`${seed}\n`).update(toJsonLine(conversation)).digest('hex');
  return parseInt(digest.slice(8, 16), 16) / 2 ** 32;
}

/**
 * Splits by content hash, so a conversation lands in the same split on every run and machine, and input order
 * is kept within each split. Train always gets at least one conversation, and validation one from 2 conversations
 * on when the fraction is above 0.
 */
export function splitConversations(
  conversations: readonly Conversation[],
  options: SplitOptions,
): ConversationSplit {
  const { validationFraction, seed = 0 } = options;
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new DataError(
      'options-invalid',
      `validation fraction must be in [0, 1), got ${validationFraction}`,
    );
  }
  if (!Number.isSafeInteger(seed))
    throw new DataError('options-invalid', `seed must be an integer, got ${seed}`);
  const points = conversations.map((c) => splitPoint(c, seed));
  const held = points.map((p) => p < validationFraction);
  // Too few conversations for the fraction to be met by chance: move the one nearest the threshold.
  const order = points.map((p, i) => [p, i]).sort((a, b) => a[0] - b[0]);
  if (validationFraction > 0 && conversations.length >= 2 && !held.includes(true)) held[order[0][1]] = true;
  if (conversations.length >= 1 && !held.includes(false)) held[order[order.length - 1][1]] = false;
  return {
    train: conversations.filter((_, i) => !held[i]),
    validation: conversations.filter((_, i) => held[i]),
  };
}

/** dataset.json */
export interface ConversationDatasetInfo {
  sourceFormat: ConversationFormat;
  counts: { train: number; validation: number; rejected: number };
  stats: DatasetStats;
  rejected: RejectedLine[];
}

export interface ConversationDataset extends ConversationDatasetInfo {
  train: Conversation[];
  validation: Conversation[];
}

/** One JSONL line of the OpenAI chat form: role, content and (assistant only) weight, in that key order. */
export function toJsonLine(conversation: Conversation): string {
  const messages = conversation.messages.map(({ role, content, weight }) =>
    weight === undefined ? { role, content } : { role, content, weight },
  );
  return JSON.stringify({ messages });
}

function toJsonl(conversations: readonly Conversation[]): string {
  return conversations.map((c) => `${toJsonLine(c)}\n`).join('');
}

/**
 * Writes the dataset into `dir` through a temporary sibling folder renamed into place, so readers never see
 * half a dataset. A non-empty `dir` is replaced only with `overwrite`.
 */
export function writeConversationDataset(
  dir: string,
  dataset: Omit<ConversationDataset, 'counts'>,
  options: { overwrite?: boolean } = {},
): ConversationDatasetInfo {
  const { train, validation, stats, rejected, sourceFormat } = dataset;
  const info: ConversationDatasetInfo = {
    sourceFormat,
    counts: { train: train.length, validation: validation.length, rejected: rejected.length },
    stats,
    rejected,
  };
  const temp = startOutput(dir, options.overwrite ?? false);
  try {
    writeFileSync(join(temp, datasetFiles.train), toJsonl(train));
    writeFileSync(join(temp, datasetFiles.validation), toJsonl(validation));
    writeFileSync(join(temp, datasetFiles.info), `${JSON.stringify(info, null, 2)}\n`);
    finishOutput(temp, dir);
  } catch (error) {
    abandonOutput(temp);
    throw error;
  }
  return info;
}

function readSplit(dir: string, name: string, expected: number): Conversation[] {
  const path = join(dir, name);
  const { conversations, rejected } = importConversations(readText(path), { format: 'openai', file: path });
  const [first] = rejected;
  if (first) {
    throw new DataError(
      'input-invalid',
      `${path}:${first.line}: ${first.field ? `${first.field}: ` : ''}${first.message}`,
    );
  }
  if (conversations.length !== expected) {
    throw new DataError(
      'input-invalid',
      `${path} holds ${conversations.length} conversations but ${datasetFiles.info} says ${expected}; write the dataset again`,
    );
  }
  return conversations;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new DataError(
      'input-not-found',
      `${path} not found; a conversation dataset is made by \`ownlm dataset import\` or \`ownlm dataset synth\``,
    );
  }
}

/** Reads a dataset written by writeConversationDataset, checking every line and the counts. */
export function readConversationDataset(dir: string): ConversationDataset {
  const infoPath = join(dir, datasetFiles.info);
  let info: ConversationDatasetInfo;
  try {
    info = JSON.parse(readText(infoPath)) as ConversationDatasetInfo;
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError('input-invalid', `${infoPath}: invalid JSON: ${(error as Error).message}`);
  }
  const { counts, sourceFormat } = info;
  if (
    typeof counts !== 'object' ||
    counts === null ||
    !Number.isInteger(counts.train) ||
    !Number.isInteger(counts.validation)
  ) {
    throw new DataError(
      'input-invalid',
      `${infoPath}: field counts must hold integer train and validation counts`,
    );
  }
  if (!conversationFormats.includes(sourceFormat)) {
    throw new DataError(
      'input-invalid',
      `${infoPath}: field sourceFormat must be one of ${conversationFormats.join(', ')}`,
    );
  }
  return {
    ...info,
    train: readSplit(dir, datasetFiles.train, counts.train),
    validation: readSplit(dir, datasetFiles.validation, counts.validation),
  };
}
