// A conversation in the OpenAI chat form every importer produces (docs/FORMATS.md#conversation-datasets): the one
// shape datasets are stored in, validated, counted and encoded from.

export type ConversationRole = 'system' | 'user' | 'assistant';

export interface ConversationMessage {
  role: ConversationRole;
  content: string;
  /** Assistant turns only: 0 masks the turn out of the loss; absent or 1 trains on it. */
  weight?: 0 | 1;
}

export interface Conversation {
  messages: ConversationMessage[];
}

/** The file formats a dataset can be uploaded in; `auto` picks by the first valid line's keys. */
export type ConversationFormat = 'openai' | 'sharegpt' | 'alpaca';

/** One line the importer refused, with its 1-based line number and the field at fault when there is one. */
export interface RejectedLine {
  line: number;
  field?: string;
  message: string;
}
