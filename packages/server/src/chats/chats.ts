// Chats and their messages, always for one actor: every function takes `{ ctx, actor, … }` and finds objects
// by id only among the actor's own, so another user's chat is `not_found` exactly as a chat that does not exist.
import { and, asc, desc, eq, exists, gt, or, sql } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { chats, messages, type ChatSettings } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { resolveModel } from '../registry/models.ts';

export const DEFAULT_TITLE = 'New chat';
export const DEFAULT_SETTINGS: ChatSettings = { systemPrompt: '', temperature: 0.7, maxTokens: 512 };
const MAX_TITLE = 200;
const MAX_SYSTEM_PROMPT = 20_000;
const MAX_CONTENT = 100_000;
const SEARCH_LIMIT = 200;

export type ChatRow = typeof chats.$inferSelect;
type MessageRow = typeof messages.$inferSelect;

/** A chat as the web app reads it (packages/web/src/types.ts `Chat`). */
export interface ChatView {
  id: string;
  title: string;
  modelId: string | null;
  settings: ChatSettings;
  createdAt: Date;
  updatedAt: Date;
}

/** A message as the web app reads it (packages/web/src/types.ts `Message`). */
export interface MessageView {
  id: string;
  role: 'system' | 'user' | 'assistant';
  content: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: Date;
}

export const chatView = (row: ChatRow): ChatView => ({
  id: row.id,
  title: row.title,
  modelId: row.modelId,
  settings: row.settings,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** Token counts belong to answers (the prompt they read, the tokens they wrote); a question has none. */
export const messageView = (row: MessageRow): MessageView => ({
  id: row.id,
  role: row.role,
  content: row.content,
  model: row.model,
  promptTokens: row.role === 'assistant' ? row.promptTokens : null,
  completionTokens: row.role === 'assistant' ? row.completionTokens : null,
  createdAt: row.createdAt,
});

const notFound = () => new AppError('not_found', 'chat not found; GET /api/chats lists your chats');

/** The request body as an object (an absent body is an empty one). */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new AppError('invalid_request', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function parseTitle(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TITLE)
    throw new AppError('invalid_request', `title must be a string of 1 to ${MAX_TITLE} characters`, 'title');
  return value.trim();
}

/** `content` of a message: 1 to 100000 characters. */
export function parseContent(body: Record<string, unknown>): string {
  const value = body.content;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_CONTENT)
    throw new AppError(
      'invalid_request',
      `content must be a non-empty string of at most ${MAX_CONTENT} characters`,
      'content',
    );
  return value;
}

/** Settings fields given in `value`, checked, over `base`. */
function parseSettings(value: unknown, base: ChatSettings): ChatSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AppError(
      'invalid_request',
      'settings must be an object {systemPrompt, temperature, maxTokens}',
      'settings',
    );
  const given = value as Record<string, unknown>;
  const settings = { ...base };
  for (const key of Object.keys(given)) {
    const field = given[key];
    if (key === 'systemPrompt') {
      if (typeof field !== 'string' || field.length > MAX_SYSTEM_PROMPT)
        throw new AppError(
          'invalid_request',
          `settings.systemPrompt must be a string of at most ${MAX_SYSTEM_PROMPT} characters`,
          'settings.systemPrompt',
        );
      settings.systemPrompt = field;
    } else if (key === 'temperature') {
      if (typeof field !== 'number' || !Number.isFinite(field) || field < 0 || field > 2)
        throw new AppError(
          'invalid_request',
          'settings.temperature must be a number from 0 to 2',
          'settings.temperature',
        );
      settings.temperature = field;
    } else if (key === 'maxTokens') {
      if (typeof field !== 'number' || !Number.isInteger(field) || field < 1 || field > 32_768)
        throw new AppError(
          'invalid_request',
          'settings.maxTokens must be an integer from 1 to 32768',
          'settings.maxTokens',
        );
      settings.maxTokens = field;
    } else
      throw new AppError(
        'invalid_request',
        `settings.${key} is not a setting; use systemPrompt, temperature or maxTokens`,
        `settings.${key}`,
      );
  }
  return settings;
}

/** The version id `modelId` names (a model the actor may use); null stays null (the default). */
async function parseModelId(ctx: AppContext, actor: Actor, value: unknown): Promise<string | null> {
  if (value === null) return null;
  if (typeof value !== 'string' || value === '')
    throw new AppError('invalid_request', 'modelId must be a model id, a model name or null', 'modelId');
  try {
    return (await resolveModel({ ctx, actor, reference: value })).versionId;
  } catch (error) {
    if (error instanceof AppError && error.code === 'model_not_found')
      throw new AppError(
        'invalid_request',
        `modelId: there is no model '${value}'; GET /api/models lists them`,
        'modelId',
      );
    throw error;
  }
}

/** The actor's chats, newest activity first; `query` (websearch syntax) matches titles and message text. */
export async function listChats(options: {
  ctx: AppContext;
  actor: Actor;
  query: string;
}): Promise<ChatView[]> {
  const { db } = options.ctx;
  const q = options.query.trim();
  const owned = eq(chats.userId, options.actor.userId);
  const matching = q
    ? or(
        sql`to_tsvector('simple', ${chats.title}) @@ websearch_to_tsquery('simple', ${q})`,
        exists(
          db
            .select({ one: sql`1` })
            .from(messages)
            .where(
              and(
                eq(messages.chatId, chats.id),
                sql`to_tsvector('simple', ${messages.content}) @@ websearch_to_tsquery('simple', ${q})`,
              ),
            ),
        ),
      )
    : undefined;
  const rows = await db
    .select()
    .from(chats)
    .where(matching ? and(owned, matching) : owned)
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(SEARCH_LIMIT);
  return rows.map(chatView);
}

/** The actor's chat with this id, or `not_found`. */
export async function findChat(options: { ctx: AppContext; actor: Actor; chatId: string }): Promise<ChatRow> {
  const [row] = await options.ctx.db
    .select()
    .from(chats)
    .where(and(eq(chats.id, options.chatId), eq(chats.userId, options.actor.userId)));
  if (!row) throw notFound();
  return row;
}

export async function createChat(options: {
  ctx: AppContext;
  actor: Actor;
  body: Record<string, unknown>;
}): Promise<ChatView> {
  const { ctx, body } = options;
  const title = body.title === undefined ? DEFAULT_TITLE : parseTitle(body.title);
  const modelId = body.modelId === undefined ? null : await parseModelId(ctx, options.actor, body.modelId);
  const settings =
    body.settings === undefined ? DEFAULT_SETTINGS : parseSettings(body.settings, DEFAULT_SETTINGS);
  const [row] = await ctx.db
    .insert(chats)
    .values({ id: newId('chat'), userId: options.actor.userId, title, modelId, settings })
    .returning();
  return chatView(row);
}

/** Changes the fields given; settings are merged into the chat's. */
export async function updateChat(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
  body: Record<string, unknown>;
}): Promise<ChatView> {
  const { ctx, body } = options;
  const chat = await findChat(options);
  const changes: Partial<ChatRow> = { updatedAt: new Date() };
  if (body.title !== undefined) changes.title = parseTitle(body.title);
  if (body.modelId !== undefined) changes.modelId = await parseModelId(ctx, options.actor, body.modelId);
  if (body.settings !== undefined) changes.settings = parseSettings(body.settings, chat.settings);
  const [row] = await ctx.db.update(chats).set(changes).where(eq(chats.id, chat.id)).returning();
  return chatView(row);
}

export async function deleteChat(options: { ctx: AppContext; actor: Actor; chatId: string }): Promise<void> {
  const chat = await findChat(options);
  await options.ctx.db.delete(chats).where(eq(chats.id, chat.id));
}

/** The actor's chat's messages in the order they were written. */
export async function chatMessages(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
}): Promise<MessageRow[]> {
  const chat = await findChat(options);
  return options.ctx.db
    .select()
    .from(messages)
    .where(eq(messages.chatId, chat.id))
    .orderBy(asc(messages.seq));
}

/** A title from the first message: its first line of words, cut near 60 characters. */
export function titleFrom(content: string): string {
  const words = content.replace(/\s+/g, ' ').trim();
  if (words.length <= 60) return words || DEFAULT_TITLE;
  const cut = words.slice(0, 60);
  const space = cut.lastIndexOf(' ');
  return `${space > 30 ? cut.slice(0, space) : cut}…`;
}

/** Saves the actor's message in their chat; a chat still called 'New chat' takes its title from it. */
export async function addUserMessage(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
  content: string;
}): Promise<MessageRow> {
  const { content } = options;
  const chat = await findChat(options);
  return options.ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(messages)
      .values({ id: newId('msg'), chatId: chat.id, role: 'user', content })
      .returning();
    await tx
      .update(chats)
      .set({ updatedAt: new Date(), ...(chat.title === DEFAULT_TITLE ? { title: titleFrom(content) } : {}) })
      .where(eq(chats.id, chat.id));
    return row;
  });
}

/** Removes the last message when it is an answer, so that the question before it is answered again. */
export async function dropLastAnswer(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
}): Promise<void> {
  const history = await chatMessages(options);
  const last = history.at(-1);
  const question = history.at(last?.role === 'assistant' ? -2 : -1);
  if (question?.role !== 'user')
    throw new AppError('invalid_request', 'there is no question to answer again; send a message first');
  if (last?.role === 'assistant') await options.ctx.db.delete(messages).where(eq(messages.id, last.id));
}

/** Replaces a user message's text and deletes every message after it; returns the edited message. */
export async function editUserMessage(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
  messageId: string;
  content: string;
}): Promise<MessageRow> {
  const { ctx, messageId, content } = options;
  const chat = await findChat(options);
  const [message] = await ctx.db
    .select()
    .from(messages)
    .where(and(eq(messages.id, messageId), eq(messages.chatId, chat.id)));
  if (!message) throw new AppError('not_found', 'message not found in this chat', 'messageId');
  if (message.role !== 'user')
    throw new AppError('invalid_request', 'only your own messages can be edited', 'messageId');
  return ctx.db.transaction(async (tx) => {
    await tx.delete(messages).where(and(eq(messages.chatId, chat.id), gt(messages.seq, message.seq)));
    const [row] = await tx.update(messages).set({ content }).where(eq(messages.id, message.id)).returning();
    await tx.update(chats).set({ updatedAt: new Date() }).where(eq(chats.id, chat.id));
    return row;
  });
}

/** Saves a generated answer in the actor's chat and marks the chat as active. */
export async function addAnswer(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
  answer: {
    content: string;
    model: string;
    promptTokens: number;
    completionTokens: number;
    finishReason: string;
  };
}): Promise<MessageRow> {
  const chat = await findChat(options);
  return options.ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(messages)
      .values({ id: newId('msg'), chatId: chat.id, role: 'assistant', ...options.answer })
      .returning();
    await tx.update(chats).set({ updatedAt: new Date() }).where(eq(chats.id, chat.id));
    return row;
  });
}
