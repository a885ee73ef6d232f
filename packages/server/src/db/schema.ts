// The platform's PostgreSQL schema (Drizzle). The same tables run on embedded PGlite and on a PostgreSQL
// server. Migrations in ./migrations are generated from this file by drizzle-kit (`npm run db:generate -w
// packages/server`) and applied at start.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/**
 * `admin` runs the platform; `member` uses it; `pending` waits for an admin's approval (approval sign-up);
 * `suspended` keeps its data but signs in to nothing, its sessions and keys refused at once.
 */
export type Role = 'admin' | 'member' | 'pending' | 'suspended';

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: ['admin', 'member', 'pending', 'suspended'] }).notNull(),
    /** Set when an admin resets the password: the next sign-in must choose a new one. */
    mustChangePassword: boolean('must_change_password').notNull().default(false),
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

/**
 * What an API key opens: `inference` the /v1 API, `platform` the platform API (/api) as its owner, `admin` the
 * admin routes too (only on an admin's key, and only when asked for).
 */
export type ApiKeyScope = 'inference' | 'platform' | 'admin';

/** Per-user API keys; the secret is shown once and only its SHA-256 is stored. */
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
    scopes: text('scopes')
      .array()
      .$type<ApiKeyScope[]>()
      .notNull()
      .default(sql`'{inference}'`),
    /** The key's own limits per minute, below its owner's; null: only the owner's apply. */
    requestsPerMinute: integer('requests_per_minute'),
    tokensPerMinute: integer('tokens_per_minute'),
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
    /** `model` (a whole GGUF) or `adapter` (a GGUF LoRA adapter served on `baseVersionId`). */
    kind: text('kind', { enum: ['model', 'adapter'] })
      .notNull()
      .default('model'),
    baseVersionId: text('base_version_id'),
    /** The user a version belongs to (made by their job); null for the whole platform (folder, admin). */
    ownerId: text('owner_id').references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('model_versions_owner_idx').on(t.ownerId),
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
  /**
   * A canary: `canaryPercent` of the alias's users (the same users every time) get this version instead;
   * rolled back automatically when its error or negative-feedback rate passes a threshold over at least
   * `rollbackMinSample` answers.
   */
  canaryVersionId: text('canary_version_id').references(() => modelVersions.id, { onDelete: 'set null' }),
  canaryPercent: integer('canary_percent').notNull().default(0),
  canaryStartedAt: timestamp('canary_started_at', { withTimezone: true }),
  rollbackErrorRate: doublePrecision('rollback_error_rate'),
  rollbackNegativeRate: doublePrecision('rollback_negative_rate'),
  rollbackMinSample: integer('rollback_min_sample').notNull().default(50),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** What an admin has priced a version at, in micro-credits (10⁻⁶ of a credit) per million tokens. */
export const modelPrices = pgTable('model_prices', {
  versionId: text('version_id')
    .primaryKey()
    .references(() => modelVersions.id, { onDelete: 'cascade' }),
  promptPerMillion: bigint('prompt_per_million', { mode: 'number' }).notNull().default(0),
  completionPerMillion: bigint('completion_per_million', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  updatedBy: text('updated_by').references(() => users.id, { onDelete: 'set null' }),
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
    /** The version that wrote an answer (an alias's canary split answers with one of two). */
    versionId: text('version_id'),
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
    /** The name the caller asked for (an alias, a name, `name:version`). */
    model: text('model').notNull(),
    /** The version that answered (an alias's canary split answers with one of two). */
    versionId: text('version_id'),
    source: text('source', { enum: ['chat', 'api'] }).notNull(),
    promptTokens: integer('prompt_tokens').notNull(),
    completionTokens: integer('completion_tokens').notNull(),
    /** How it ended: answered, failed, cancelled by the client, stopped by a filter, or refused before it ran. */
    status: text('status', { enum: ['ok', 'error', 'cancelled', 'filtered', 'refused'] })
      .notNull()
      .default('ok'),
    /** The refusal's or failure's error code (`insufficient_quota`, `rate_limited`, …). */
    errorCode: text('error_code'),
    firstTokenMs: integer('first_token_ms'),
    totalMs: integer('total_ms'),
    /** Micro-credits it cost (the ledger's `usage` row for it). */
    credits: bigint('credits', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    index('usage_user_created_idx').on(t.userId, t.createdAt),
    index('usage_created_idx').on(t.createdAt),
    index('usage_version_created_idx').on(t.versionId, t.createdAt),
  ],
);

/** A conversation dataset: its files (train.jsonl, validation.jsonl in OpenAI chat form) live in `path`. */
export const datasets = pgTable(
  'datasets',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The uploaded form: `openai`, `sharegpt`, `alpaca`, or `synthetic` when generated here. */
    sourceFormat: text('source_format').notNull(),
    path: text('path').notNull(),
    conversations: integer('conversations').notNull(),
    /** Statistics (turns, tokens per role, length histogram) as the studio computes them. */
    stats: jsonb('stats').$type<Record<string, unknown>>().notNull(),
    /** Lines rejected at upload, each with its line number and reason (capped; `rejectedCount` is exact). */
    rejected: jsonb('rejected').$type<{ line: number; field?: string; message: string }[]>().notNull(),
    rejectedCount: integer('rejected_count').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('datasets_user_idx').on(t.userId, t.createdAt)],
);

export type JobType =
  | 'data-prepare'
  | 'tokenizer-train'
  | 'data-pack'
  | 'pretrain'
  | 'finetune'
  | 'eval'
  | 'export'
  | 'quickstart'
  | 'redteam';
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * A training job. Workers claim queued rows with FOR UPDATE SKIP LOCKED and hold them by a lease they renew
 * with heartbeats; a running row whose lease has expired is claimed again and resumes from its checkpoint.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: text('type').$type<JobType>().notNull(),
    state: text('state').$type<JobState>().notNull().default('queued'),
    name: text('name').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull(),
    /** What the job made (model version ids, report, artifact paths), set when it succeeds. */
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    /** The latest progress event (step, steps, loss, eta), for lists without reading every event. */
    progress: jsonb('progress').$type<Record<string, unknown>>(),
    attempts: integer('attempts').notNull().default(0),
    workerId: text('worker_id'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    /** Seconds spent running, summed over attempts, and the machine's hourly rate when it ran. */
    wallSeconds: doublePrecision('wall_seconds').notNull().default(0),
    hourlyRate: doublePrecision('hourly_rate').notNull().default(0),
    tokensProcessed: bigint('tokens_processed', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('jobs_state_created_idx').on(t.state, t.createdAt),
    index('jobs_user_idx').on(t.userId, t.createdAt),
  ],
);

/** Everything a job reported, in order: progress, metrics, log, checkpoint, artifact, state. */
export const jobEvents = pgTable(
  'job_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    jobId: text('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    type: text('type', { enum: ['progress', 'metrics', 'log', 'checkpoint', 'artifact', 'state'] }).notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('job_events_job_idx').on(t.jobId, t.id)],
);

/** Tokens remote workers authenticate with (`ownlm worker --token`); scoped to the worker API only. */
export const workerTokens = pgTable(
  'worker_tokens',
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
  (t) => [uniqueIndex('worker_tokens_secret_unique').on(t.secretHash)],
);

/** A user's endpoint for job events; the secret signs each delivery (HMAC-SHA256 over timestamp and body). */
export const webhooks = pgTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    secret: text('secret').notNull(),
    /** Event types delivered (`job.succeeded`, …); empty means all. */
    events: jsonb('events').$type<string[]>().notNull(),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [index('webhooks_user_idx').on(t.userId)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    event: text('event').notNull(),
    body: text('body').notNull(),
    state: text('state', { enum: ['pending', 'succeeded', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    lastError: text('last_error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    createdAt: createdAt(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.id),
    index('webhook_deliveries_due_idx').on(t.state, t.nextAttemptAt),
  ],
);

/** In-app notifications (a job ended); unread until the user opens them. */
export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    jobId: text('job_id'),
    title: text('title').notNull(),
    body: text('body').notNull(),
    readAt: timestamp('read_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('notifications_user_idx').on(t.userId, t.id)],
);

/**
 * A job's report JSON: a fine-tune's before/after evaluation (perplexities and side-by-side answers), or a
 * red-team run's outcomes.
 */
export const evalReports = pgTable(
  'eval_reports',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['finetune', 'redteam'] })
      .notNull()
      .default('finetune'),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    jobId: text('job_id'),
    versionId: text('version_id'),
    baseVersionId: text('base_version_id'),
    report: jsonb('report').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('eval_reports_version_idx').on(t.versionId)],
);

/** An admin's own rule in a safety policy: phrases and regular expressions flagging one moderation category. */
export interface SafetyRule {
  category: string;
  words: string[];
  patterns: string[];
}

/**
 * What the platform checks before and after a generation, for every model (`platform`) or for one (`model`,
 * by name, alias or version id); the most specific enabled policy applies. `groupId` is for a group scope.
 */
export const safetyPolicies = pgTable(
  'safety_policies',
  {
    id: text('id').primaryKey(),
    scope: text('scope', { enum: ['platform', 'model'] }).notNull(),
    model: text('model'),
    groupId: text('group_id'),
    enabled: boolean('enabled').notNull().default(true),
    inputFilter: boolean('input_filter').notNull().default(true),
    outputFilter: boolean('output_filter').notNull().default(true),
    /** The shipped rules (with PII values on outputs and payloads hidden in encodings). */
    rules: boolean('rules').notNull().default(true),
    /** The shipped classifier. */
    classifier: boolean('classifier').notNull().default(true),
    /** Score at or above which a category is flagged. */
    threshold: doublePrecision('threshold').notNull().default(0.5),
    /** A registered model asked Llama Guard style; null for none. */
    guardModel: text('guard_model'),
    /** Prompt-injection detection on the input: off, a warning, or a block. */
    injection: text('injection', { enum: ['off', 'warn', 'block'] })
      .notNull()
      .default('warn'),
    customRules: jsonb('custom_rules').$type<SafetyRule[]>().notNull().default([]),
    /** What a flagged text does: `block` it, or only `flag` it for the admins' queue. */
    action: text('action', { enum: ['block', 'flag'] })
      .notNull()
      .default('block'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('safety_policies_scope_unique').on(
      t.scope,
      sql`coalesce(${t.model}, '')`,
      sql`coalesce(${t.groupId}, '')`,
    ),
  ],
);

/**
 * Every input or output a safety policy blocked or flagged (and every injection warning), for the admins'
 * flag queue. The excerpt is bounded and has PII values replaced.
 */
export const moderationEvents = pgTable(
  'moderation_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id').references(() => users.id, { onDelete: 'set null' }),
    apiKeyId: text('api_key_id'),
    /** The model name the client asked for, and the version that served it. */
    model: text('model').notNull(),
    versionId: text('version_id'),
    policyId: text('policy_id'),
    source: text('source', { enum: ['chat', 'api'] }).notNull(),
    direction: text('direction', { enum: ['input', 'output'] }).notNull(),
    /** `blocked`, `flagged` (let through) or `warned` (an injection marked untrusted). */
    action: text('action', { enum: ['blocked', 'flagged', 'warned'] }).notNull(),
    categories: text('categories').array().notNull(),
    /** The evidence: rule ids, `classifier/<label>`, `guard/<code>`, with scores. */
    reasons: jsonb('reasons').$type<{ id: string; score: number }[]>().notNull(),
    excerpt: text('excerpt').notNull(),
    reviewedAt: timestamp('reviewed_at', { withTimezone: true }),
    reviewedBy: text('reviewed_by'),
    createdAt: createdAt(),
  },
  (t) => [
    index('moderation_events_created_idx').on(t.createdAt),
    index('moderation_events_open_idx').on(t.reviewedAt, t.id),
  ],
);

/** Settings an admin changes at run time (sign-up mode, review policy, …), one JSON value per key. */
export const platformSettings = pgTable('platform_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  updatedBy: text('updated_by').references(() => users.id, { onDelete: 'set null' }),
});

/** A single-use sign-up link; the link holds the token, the row its SHA-256. */
export const invitations = pgTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    /** When set, only this address may accept it. */
    email: text('email'),
    role: text('role', { enum: ['admin', 'member'] })
      .notNull()
      .default('member'),
    groupIds: text('group_ids')
      .array()
      .notNull()
      .default(sql`'{}'`),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    usedBy: text('used_by').references(() => users.id, { onDelete: 'set null' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('invitations_token_unique').on(t.tokenHash)],
);

/** A feature a group may grant its members. */
export type Feature = 'finetune' | 'api_keys' | 'builder' | 'knowledge';

/**
 * A group grants its members models (aliases, version ids or `*` for every model everyone may use), features, a
 * monthly credit grant and rate limits; a member's permissions are the union of their groups'.
 */
export const groups = pgTable(
  'groups',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    models: text('models')
      .array()
      .notNull()
      .default(sql`'{}'`),
    features: text('features')
      .array()
      .$type<Feature[]>()
      .notNull()
      .default(sql`'{}'`),
    /** Micro-credits granted to each member at the start of every month. */
    monthlyCredits: bigint('monthly_credits', { mode: 'number' }).notNull().default(0),
    requestsPerMinute: integer('requests_per_minute'),
    tokensPerMinute: integer('tokens_per_minute'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('groups_name_unique').on(sql`lower(${t.name})`)],
);

export const groupMembers = pgTable(
  'group_members',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('group_members_user_idx').on(t.userId)],
);

/**
 * The credit ledger: append-only rows in micro-credits (10⁻⁶ of a credit), positive to the user, negative from
 * them; a balance is the sum of a user's rows. A request reserves its worst case (`reservation`) and settles
 * with a `release` of it and the `usage` it really had.
 */
export const creditLedger = pgTable(
  'credit_ledger',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', {
      enum: ['grant', 'monthly', 'reservation', 'release', 'usage', 'job', 'refund', 'adjustment'],
    }).notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    reason: text('reason').notNull().default(''),
    /** The admin who made a grant or adjustment; null for the platform itself. */
    actorId: text('actor_id').references(() => users.id, { onDelete: 'set null' }),
    /** What the row is for: a request id, a job id, `<yyyy-mm>:<group id>` for a monthly grant. */
    reference: text('reference'),
    createdAt: createdAt(),
  },
  (t) => [
    index('credit_ledger_user_idx').on(t.userId, t.createdAt),
    uniqueIndex('credit_ledger_monthly_unique')
      .on(t.userId, t.reference)
      .where(sql`${t.kind} = 'monthly'`),
    // A reservation is given back once, by its request or, when that never ended, by the sweep.
    uniqueIndex('credit_ledger_release_unique')
      .on(t.reference)
      .where(sql`${t.kind} = 'release'`),
    index('credit_ledger_reservation_idx')
      .on(t.createdAt)
      .where(sql`${t.kind} = 'reservation'`),
  ],
);

/** Requests and tokens per key (`user:<id>`, `key:<id>`, `login:<address>` …) per minute, shared by processes. */
export const rateLimitCounters = pgTable(
  'rate_limit_counters',
  {
    key: text('key').notNull(),
    windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
    requests: integer('requests').notNull().default(0),
    tokens: integer('tokens').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.key, t.windowStart] }), index('rate_limit_window_idx').on(t.windowStart)],
);

/** Append-only: every admin action and security event, with who, what, from where and when. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actorId: text('actor_id').references(() => users.id, { onDelete: 'set null' }),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    address: text('address'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index('audit_created_idx').on(t.createdAt),
    index('audit_action_idx').on(t.action, t.createdAt),
    index('audit_actor_idx').on(t.actorId, t.createdAt),
  ],
);

/** An admin opened a user's conversation, with the reason they typed. */
export const conversationReviews = pgTable(
  'conversation_reviews',
  {
    id: text('id').primaryKey(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    adminId: text('admin_id').references(() => users.id, { onDelete: 'set null' }),
    reason: text('reason').notNull(),
    /** Whether the organisation's policy kept it from the user. */
    silent: boolean('silent').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('conversation_reviews_chat_idx').on(t.chatId)],
);

/** A message a user or an admin flagged for the admins' queue. */
export const messageFlags = pgTable(
  'message_flags',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    flaggedBy: text('flagged_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    reason: text('reason').notNull().default(''),
    state: text('state', { enum: ['open', 'resolved'] })
      .notNull()
      .default('open'),
    resolvedBy: text('resolved_by').references(() => users.id, { onDelete: 'set null' }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    resolution: text('resolution'),
    createdAt: createdAt(),
  },
  (t) => [index('message_flags_state_idx').on(t.state, t.createdAt)],
);

/** A user's thumbs up (1) or down (-1) on an answer, with an optional comment; one per user and answer. */
export const messageFeedback = pgTable(
  'message_feedback',
  {
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    rating: smallint('rating').notNull(),
    comment: text('comment').notNull().default(''),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.userId] })],
);
