// The platform's PostgreSQL schema (Drizzle). The same tables run on embedded PGlite and on a PostgreSQL
// server. Migrations in ./migrations are generated from this file by drizzle-kit (`npm run db:generate -w
// packages/server`) and applied at start.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: ['admin', 'user'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('users_email_unique').on(sql`lower(${t.email})`)],
);

/** A browser session; the cookie holds the token, the row holds its SHA-256. */
export const sessions = pgTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/** Per-user keys for the /v1 API; the secret is shown once and only its SHA-256 is stored. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_secret_unique').on(t.secretHash), index('api_keys_user_idx').on(t.userId)],
);

export const models = pgTable('models', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  createdAt: createdAt(),
});

/** One servable file of a model; lineage says how it was made when ownlm made it. */
export const modelVersions = pgTable(
  'model_versions',
  {
    id: text('id').primaryKey(),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    path: text('path').notNull(),
    format: text('format').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    parameters: bigint('parameters', { mode: 'number' }),
    quantization: text('quantization'),
    contextLength: integer('context_length'),
    chatTemplate: text('chat_template'),
    lineage: jsonb('lineage').$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('model_versions_model_version_unique').on(t.modelId, t.version),
    uniqueIndex('model_versions_path_sha_unique').on(t.path, t.sha256),
  ],
);

/** A movable name for a version (`default`, `prod`, …): switching and switching back is one update. */
export const modelAliases = pgTable('model_aliases', {
  alias: text('alias').primaryKey(),
  versionId: text('version_id')
    .notNull()
    .references(() => modelVersions.id, { onDelete: 'cascade' }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export interface ChatSettings {
  systemPrompt: string;
  temperature: number;
  maxTokens: number;
}

export const chats = pgTable(
  'chats',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    modelId: text('model_id'),
    settings: jsonb('settings').$type<ChatSettings>().notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('chats_user_updated_idx').on(t.userId, t.updatedAt),
    index('chats_title_search_idx').using('gin', sql`to_tsvector('simple', ${t.title})`),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    /** Insertion order within a chat; created_at can tie. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['system', 'user', 'assistant'] }).notNull(),
    content: text('content').notNull(),
    model: text('model'),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    finishReason: text('finish_reason'),
    createdAt: createdAt(),
  },
  (t) => [
    index('messages_chat_seq_idx').on(t.chatId, t.seq),
    index('messages_content_search_idx').using('gin', sql`to_tsvector('simple', ${t.content})`),
  ],
);

/** Tokens used, per request, for the user's daily counts (chat UI and /v1 alike). */
export const usageRecords = pgTable(
  'usage_records',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    apiKeyId: text('api_key_id'),
    model: text('model').notNull(),
    source: text('source', { enum: ['chat', 'api'] }).notNull(),
    promptTokens: integer('prompt_tokens').notNull(),
    completionTokens: integer('completion_tokens').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('usage_user_created_idx').on(t.userId, t.createdAt)],
);
