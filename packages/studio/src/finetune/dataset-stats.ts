// Statistics of a conversation dataset, as the datasets page and `ownlm dataset validate` show them.
import type { Conversation, ConversationRole } from './conversation.ts';

export type RoleCounts = Record<ConversationRole, number>;

export interface DatasetStats {
  conversations: number;
  /** User and assistant messages (system prompts are not turns). */
  turns: number;
  messages: RoleCounts;
  /** Tokens of the message contents per role, without the chat template's markup. */
  tokens: RoleCounts;
  /** Conversations by content tokens, in power-of-two buckets: `count` have more than upTo/2 and at most `upTo`. */
  lengthHistogram: { upTo: number; count: number }[];
  /** What counted the tokens: the model's tokenizer, or the estimate of one token per four characters. */
  tokenCounter: 'tokenizer' | 'chars/4';
}

function roleCounts(): RoleCounts {
  return { system: 0, user: 0, assistant: 0 };
}

/** Counts conversations, messages and tokens per role; without `countTokens`, tokens are ceil(characters / 4). */
export function datasetStats(
  conversations: readonly Conversation[],
  countTokens?: (text: string) => number,
): DatasetStats {
  const count = countTokens ?? ((text: string) => Math.ceil(text.length / 4));
  const messages = roleCounts();
  const tokens = roleCounts();
  const buckets = new Map<number, number>();
  for (const { messages: turns } of conversations) {
    let length = 0;
    for (const { role, content } of turns) {
      const n = count(content);
      messages[role] += 1;
      tokens[role] += n;
      length += n;
    }
    const upTo = 2 ** Math.ceil(Math.log2(Math.max(1, length)));
    buckets.set(upTo, (buckets.get(upTo) ?? 0) + 1);
  }
  // Every bucket from the shortest to the longest conversation, empty ones included, so the chart has no gaps.
  const lengthHistogram: DatasetStats['lengthHistogram'] = [];
  const sizes = [...buckets.keys()];
  if (sizes.length > 0) {
    for (let upTo = Math.min(...sizes); upTo <= Math.max(...sizes); upTo *= 2) {
      lengthHistogram.push({ upTo, count: buckets.get(upTo) ?? 0 });
    }
  }
  return {
    conversations: conversations.length,
    turns: messages.user + messages.assistant,
    messages,
    tokens,
    lengthHistogram,
    tokenCounter: countTokens ? 'tokenizer' : 'chars/4',
  };
}
