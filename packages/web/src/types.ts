// The platform API's shapes, as the server sends them (packages/server routes under /api).

export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
}

export interface Session {
  user: User | null;
  csrfToken: string | null;
}

export interface Model {
  id: string;
  name: string;
  version: string;
  format: string;
  sizeBytes: number;
  parameters: number | null;
  quantization: string | null;
  contextLength: number | null;
  aliases: string[];
  /** `adapter` versions are LoRA adapters served on `baseVersionId`. */
  kind?: 'model' | 'adapter';
  baseVersionId?: string | null;
  /** Where the version came from (base, dataset, job, hyperparameters, metrics), as its maker recorded it. */
  lineage?: Record<string, unknown> | null;
  /** Everyone's (true), or its owner's alone: a fine-tune until an admin publishes it. */
  shared: boolean;
  createdAt?: string;
}

export interface ChatSettings {
  systemPrompt: string;
  temperature: number;
  maxTokens: number;
}

export interface Chat {
  id: string;
  title: string;
  modelId: string | null;
  settings: ChatSettings;
  createdAt: string;
  updatedAt: string;
}

export interface Message {
  id: string;
  role: 'system' | 'user' | 'assistant';
  content: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type ApiKeyScope = 'inference' | 'platform' | 'admin';

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: string;
  lastUsedAt: string | null;
}

export interface QuickstartStatus {
  state: 'idle' | 'running' | 'succeeded' | 'failed';
  stage: string | null;
  step: number | null;
  steps: number | null;
  loss: number | null;
  etaSeconds: number | null;
  error: string | null;
  modelId: string | null;
}

/** One event of a chat answer stream. */
export type ChatStreamEvent =
  | { type: 'message-created'; message: Message }
  | { type: 'text-delta'; text: string }
  /** The safety policy found a prompt injection in the message: it is marked untrusted. */
  | { type: 'injection-detected'; score: number }
  /** `notice`: the safety policy withheld the rest of the answer (finish reason `content_filter`). */
  | { type: 'message-finished'; message: Message; finishReason: string; notice?: string }
  | { type: 'error'; message: string };

// Safety (admins): policies and the flag queue (packages/server/src/routes/safety.ts).

export interface SafetyRule {
  category: string;
  words: string[];
  patterns: string[];
}

export interface SafetyPolicy {
  id: string;
  /** `platform`: every model; `model`: the one `model` names (name, alias or version id). */
  scope: 'platform' | 'model';
  model: string | null;
  enabled: boolean;
  inputFilter: boolean;
  outputFilter: boolean;
  rules: boolean;
  classifier: boolean;
  threshold: number;
  guardModel: string | null;
  injection: 'off' | 'warn' | 'block';
  customRules: SafetyRule[];
  action: 'block' | 'flag';
  createdAt: string;
  updatedAt: string;
}

export type SafetyPolicyFields = Partial<Omit<SafetyPolicy, 'id' | 'createdAt' | 'updatedAt'>>;

export interface Flag {
  id: number;
  userId: string | null;
  apiKeyId: string | null;
  model: string;
  source: 'chat' | 'api';
  direction: 'input' | 'output';
  action: 'blocked' | 'flagged' | 'warned';
  categories: string[];
  reasons: { id: string; score: number; excerpt?: string }[];
  excerpt: string;
  reviewedAt: string | null;
  createdAt: string;
}

export interface FlagCounts {
  open: number;
  total: number;
  byKind: { direction: Flag['direction']; action: Flag['action']; count: number }[];
}

export interface FlagFilter {
  state: 'open' | 'reviewed' | 'all';
  direction?: Flag['direction'];
  action?: Flag['action'];
}

// The fine-tuning studio (packages/server/STUDIO-API.md).

export type DatasetFormat = 'auto' | 'openai' | 'sharegpt' | 'alpaca';

export interface RejectedLine {
  line: number;
  field?: string;
  message: string;
}

export interface RoleCounts {
  system: number;
  user: number;
  assistant: number;
}

export interface DatasetStats {
  conversations: number;
  turns: number;
  messages: RoleCounts;
  tokens: RoleCounts;
  /** Conversations by content tokens in power-of-two buckets: more than upTo/2 and at most upTo. */
  lengthHistogram: { upTo: number; count: number }[];
  tokenCounter: 'tokenizer' | 'chars/4';
}

export interface Dataset {
  id: string;
  name: string;
  sourceFormat: string;
  conversations: number;
  trainConversations: number;
  validationConversations: number;
  stats: DatasetStats;
  rejected: RejectedLine[];
  rejectedCount: number;
  createdAt: string;
}

export interface Conversation {
  messages: { role: 'system' | 'user' | 'assistant'; content: string; weight?: 0 | 1 }[];
}

export type SyntheticGenerator =
  | { kind: 'template' }
  | { kind: 'model'; model: string }
  | { kind: 'openai'; baseUrl: string; apiKey: string; model: string };

export interface SyntheticRequest {
  name: string;
  count: number;
  seed?: number;
  generator: SyntheticGenerator;
  validation?: number;
}

/**
 * A parameter's JSON Schema as GET /api/job-types serves it: the keywords the forms read (its kind, limits,
 * choices, default and help).
 */
export interface ParamSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null';
  description?: string;
  default?: unknown;
  /** What the default is when no value says it ("the base's"). */
  defaultDescription?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  const?: string;
  anyOf?: ParamSchema[];
  items?: ParamSchema;
}

/** A job type as GET /api/job-types describes it. */
export interface JobTypeInfo {
  summary: string;
  /** What each input parameter's id names: 'dataset', 'model' or `{job: type}`. */
  inputs: Record<string, unknown>;
  params: { properties: Record<string, ParamSchema>; required?: string[] };
}

/** A job's parameters: its inputs' ids and its settings, by the names its type's schema gives. */
export type JobParams = Record<string, unknown>;

export interface JobRequest {
  type: string;
  name?: string;
  params: JobParams;
}

export interface Estimate {
  memoryBytes: number;
  fits: boolean;
  seconds: number;
  tokens: number;
  cost: number;
  currency: string;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobProgress {
  stage?: string;
  step?: number;
  steps?: number;
  loss?: number;
  validationLoss?: number;
  etaSeconds?: number;
  tokensPerSecond?: number;
}

export interface Job {
  id: string;
  type: string;
  name: string;
  state: JobState;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  progress: JobProgress | null;
  attempts: number;
  workerId: string | null;
  wallSeconds: number;
  hourlyRate: number;
  cost: number;
  tokensProcessed: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobTotals {
  wallSeconds: number;
  cost: number;
  tokensProcessed: number;
  currency?: string;
}

export type JobEventType = 'progress' | 'metrics' | 'log' | 'checkpoint' | 'artifact' | 'state';

export interface JobEvent {
  id: number;
  type: JobEventType;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  active: boolean;
  createdAt: string;
}

export interface WebhookDelivery {
  id: number;
  event: string;
  state: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface Notification {
  id: number;
  jobId: string | null;
  title: string;
  body: string;
  readAt: string | null;
  createdAt: string;
}

export interface Report {
  baseModel: string;
  tunedModel: string;
  dataset: string;
  heldOut: { conversations: number; assistantTokens: number };
  perplexity: { base: number; tuned: number };
  scenarios: { prompt: string; base: string; tuned: string }[];
}
