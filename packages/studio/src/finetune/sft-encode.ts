// Conversations to training sequences with the loss on assistant tokens only (docs/FORMATS.md#loss-masking).
//
// The conversation is rendered with the tokenizer's own chat template, and the spans are found by the
// prefix method: render the messages before a turn, then through the turn, tokenize both, and the turn's
// tokens are those the longer rendering adds. That is only valid if the template is prefix-preserving (each
// rendering and its tokens extend the previous one), which is checked at every cut; a template that is not is
// refused with an error naming it. Labels equal the ids on trained assistant spans and -100 elsewhere.
//
// The trained span of an assistant turn starts after its header (the generation prompt) and runs through the
// end-of-turn token and what the template writes after it, as TRL's training templates mark it: for ChatML
// `'\n' + content + '<|im_end|>\n'` (the newline that closes `<|im_start|>assistant` included), for Llama 3
// `content + '<|eot_id|>'`. Training on the end-of-turn token is what teaches the model to stop.
import { IGNORE_INDEX } from '@ownlm/engine';
import { DataError } from '../data/errors.ts';
import type { ChatMessage, Tokenizer } from '../tokenizer/tokenizer.ts';
import type { Conversation } from './conversation.ts';

export interface EncodeConversationOptions {
  /** Longest sequence kept, in tokens (the fine-tune's context); longer ones are cut at the end. */
  context: number;
}

export interface EncodedConversation {
  ids: Int32Array;
  /** ids on trained assistant tokens, -100 elsewhere; aligned with ids (the model shifts by one). */
  labels: Int32Array;
  /** True when the rendering was longer than the context and was cut. */
  truncated: boolean;
}

function templateName(tokenizer: Tokenizer): string {
  const template = tokenizer.chatTemplate ?? '';
  const kind = isChatMl(tokenizer) ? 'ChatML ' : template.includes('<|start_header_id|>') ? 'Llama-3 ' : '';
  return `the tokenizer's ${kind}chat template (${JSON.stringify(template.slice(0, 60))}…)`;
}

function isChatMl(tokenizer: Tokenizer): boolean {
  return tokenizer.chatTemplate?.includes('<|im_start|>') === true;
}

/** Encodes one rendering as transformers does for chat: special tokens parsed, no post-processor tokens. */
function encodeRendered(tokenizer: Tokenizer, text: string): Int32Array {
  return Int32Array.from(tokenizer.encode(text, { addSpecialTokens: false, parseSpecial: true }));
}

function startsWithIds(ids: Int32Array, prefix: Int32Array): boolean {
  if (prefix.length > ids.length) return false;
  for (let i = 0; i < prefix.length; i++) if (ids[i] !== prefix[i]) return false;
  return true;
}

/** Ids and assistant-only labels of one conversation (see the file comment for the spans). */
export function encodeConversation(
  tokenizer: Tokenizer,
  conversation: Conversation,
  options: EncodeConversationOptions,
): EncodedConversation {
  const messages: ChatMessage[] = conversation.messages.map(({ role, content }) => ({ role, content }));
  const render = (count: number, addGenerationPrompt = false) =>
    tokenizer.applyChatTemplate(messages.slice(0, count), { addGenerationPrompt });
  const notPrefix = (what: string) =>
    new DataError(
      'input-unsupported',
      `${templateName(tokenizer)} is not prefix-preserving: ${what}, so assistant tokens cannot be located; use a template whose rendering of a conversation extends the rendering of its first messages`,
    );

  let previousText = render(0);
  let previousIds = encodeRendered(tokenizer, previousText);
  // Spans [start, end) of token positions trained on.
  const spans: [number, number][] = [];
  for (let i = 0; i < messages.length; i++) {
    const text = render(i + 1);
    const ids = encodeRendered(tokenizer, text);
    if (!text.startsWith(previousText) || !startsWithIds(ids, previousIds))
      throw notPrefix(
        `rendering message ${i + 1} (${messages[i].role}) changes what the earlier ones rendered`,
      );
    if (messages[i].role === 'assistant' && conversation.messages[i].weight !== 0) {
      let header = render(i, true);
      // ChatML: TRL's training template marks the newline after `<|im_start|>assistant` as the answer's.
      if (isChatMl(tokenizer) && header.endsWith('\n')) header = header.slice(0, -1);
      const headerIds = encodeRendered(tokenizer, header);
      if (!header.startsWith(previousText) || !text.startsWith(header) || !startsWithIds(ids, headerIds))
        throw notPrefix(`the assistant header before message ${i + 1} is not where the answer begins`);
      spans.push([headerIds.length, ids.length]);
    }
    previousText = text;
    previousIds = ids;
  }

  const truncated = previousIds.length > options.context;
  const ids = truncated ? previousIds.slice(0, options.context) : previousIds;
  const labels = new Int32Array(ids.length).fill(IGNORE_INDEX);
  for (const [start, end] of spans)
    for (let t = start; t < Math.min(end, ids.length); t++) labels[t] = ids[t];
  return { ids, labels, truncated };
}

export interface EncodedDataset {
  /** Conversations with at least one trained token left (in input order). */
  examples: EncodedConversation[];
  /** Conversations longer than the context, cut at the end. */
  truncated: number;
  /** Conversations dropped because no trained token was left (all turns weight 0, or cut away). */
  dropped: number;
  /** Tokens whose prediction is trained on (labels after the first position that are not -100). */
  assistantTokens: number;
}

/** Tokens a sequence trains on: positions after the first (the first has no preceding token) not masked. */
export function trainedTokenCount(example: EncodedConversation): number {
  let n = 0;
  for (let t = 1; t < example.labels.length; t++) if (example.labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/** Encodes a split; the counts say how many conversations were cut or dropped, for the run's log. */
export function encodeConversations(
  tokenizer: Tokenizer,
  conversations: readonly Conversation[],
  options: EncodeConversationOptions,
): EncodedDataset {
  const result: EncodedDataset = { examples: [], truncated: 0, dropped: 0, assistantTokens: 0 };
  for (const conversation of conversations) {
    const example = encodeConversation(tokenizer, conversation, options);
    if (example.truncated) result.truncated++;
    const trained = trainedTokenCount(example);
    if (trained === 0) {
      result.dropped++;
      continue;
    }
    result.examples.push(example);
    result.assistantTokens += trained;
  }
  return result;
}

export interface SequenceBatch {
  /** [batch, seq] input ids, right-padded. */
  inputs: Int32Array;
  /** [batch, seq] next-token labels (labels shifted by one), -100 on masked and padded positions. */
  targets: Int32Array;
  batch: number;
  seq: number;
  /** Real (unpadded) input tokens. */
  tokens: number;
}

/**
 * Examples laid out for the model's loss: inputs ids[0..n-1], targets labels[1..n], padded on the right to
 * the longest in the batch (causal attention keeps padding out of real positions; its targets are ignored).
 */
export function sequenceBatch(examples: readonly EncodedConversation[]): SequenceBatch {
  const seq = Math.max(...examples.map((e) => e.ids.length - 1));
  const inputs = new Int32Array(examples.length * seq);
  const targets = new Int32Array(examples.length * seq).fill(IGNORE_INDEX);
  let tokens = 0;
  examples.forEach((example, row) => {
    const n = example.ids.length - 1;
    inputs.set(example.ids.subarray(0, n), row * seq);
    targets.set(example.labels.subarray(1), row * seq);
    tokens += n;
  });
  return { inputs, targets, batch: examples.length, seq, tokens };
}
