// The platform API client. Cookies carry the session; every state-changing request also sends the session's
// CSRF token. Errors arrive as `{"error":{message,type,param,code}}` and are thrown as ApiError.
import type {
  ApiKey,
  ApiKeyScope,
  Chat,
  ChatSettings,
  ChatStreamEvent,
  Conversation,
  Dataset,
  DatasetFormat,
  Estimate,
  Flag,
  FlagCounts,
  FlagFilter,
  Job,
  JobEvent,
  JobRequest,
  JobTotals,
  JobTypeInfo,
  Message,
  Model,
  Notification,
  QuickstartStatus,
  Report,
  SafetyPolicy,
  SafetyPolicyFields,
  Session,
  SyntheticRequest,
  Usage,
  User,
  Webhook,
  WebhookDelivery,
} from '../types.ts';
import { readServerEvents } from './sse.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly param: string | null;

  constructor(status: number, message: string, code: string | null = null, param: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

/** Called when a request finds the session gone (401), so the app can show the login page. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

async function toError(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, a dropped connection): the status says enough.
  }
  const error = (body as { error?: { message?: string; code?: string; param?: string } } | null)?.error;
  const message = error?.message ?? `The server answered ${response.status} ${response.statusText}.`;
  return new ApiError(response.status, message, error?.code ?? null, error?.param ?? null);
}

/** A Blob body (an uploaded JSONL file) goes as it is; anything else as JSON. */
async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {};
  const raw = body instanceof Blob;
  if (body !== undefined) headers['content-type'] = raw ? 'application/x-ndjson' : 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  });
  if (!response.ok) {
    const error = await toError(response);
    if (response.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized();
    throw error;
  }
  return response;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  return (response.status === 204 ? null : await response.json()) as T;
}

function remember<T extends { csrfToken: string | null }>(session: T): T {
  csrfToken = session.csrfToken;
  return session;
}

/** Opens a chat answer stream; resolves once the server has accepted the request (and rejects when it has
 * not), then yields the saved user message, text deltas, and the saved answer or an error. Aborting `signal`
 * stops generation on the server, which keeps the partial answer. */
export async function openAnswer(
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<AsyncGenerator<ChatStreamEvent>> {
  const response = await send('POST', path, body, signal);
  if (!response.body) throw new ApiError(response.status, 'The server sent no answer stream.');
  return answerEvents(response.body);
}

async function* answerEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatStreamEvent> {
  for await (const { event, data } of readServerEvents(body)) {
    const payload = JSON.parse(data) as Record<string, unknown>;
    if (event === 'message-created') yield { type: event, message: payload.message as Message };
    else if (event === 'text-delta') yield { type: event, text: String(payload.text ?? '') };
    else if (event === 'injection-detected') yield { type: event, score: Number(payload.score) };
    else if (event === 'message-finished') {
      yield {
        type: event,
        message: payload.message as Message,
        finishReason: String(payload.finishReason),
        ...(typeof payload.notice === 'string' ? { notice: payload.notice } : {}),
      };
    } else if (event === 'error') {
      const error = payload.error as { message?: string } | undefined;
      yield { type: event, message: String(payload.message ?? error?.message ?? 'The answer failed.') };
    }
  }
}

const chatPath = (id: string) => `/api/chats/${encodeURIComponent(id)}`;
const datasetPath = (id: string) => `/api/datasets/${encodeURIComponent(id)}`;
const jobPath = (id: string) => `/api/jobs/${encodeURIComponent(id)}`;
const reportPath = (id: string) => `/api/reports/${encodeURIComponent(id)}`;
const safetyPolicyPath = (id: string) => `/api/admin/safety/policies/${encodeURIComponent(id)}`;

export const api = {
  session: async () => remember(await json<Session>('GET', '/api/session')),
  register: async (email: string, password: string, name: string) =>
    remember(
      await json<{ user: User; csrfToken: string }>('POST', '/api/auth/register', { email, password, name }),
    ),
  login: async (email: string, password: string) =>
    remember(await json<{ user: User; csrfToken: string }>('POST', '/api/auth/login', { email, password })),
  logout: async () => {
    await json<null>('POST', '/api/auth/logout');
    csrfToken = null;
  },
  logoutEverywhere: async () => {
    await json<null>('POST', '/api/auth/logout-everywhere');
    csrfToken = null;
  },
  changePassword: (currentPassword: string, newPassword: string) =>
    json<null>('POST', '/api/auth/password', { currentPassword, newPassword }),
  models: () => json<{ models: Model[]; default: string | null }>('GET', '/api/models'),
  chats: (query = '') =>
    json<{ chats: Chat[] }>('GET', query ? `/api/chats?q=${encodeURIComponent(query)}` : '/api/chats'),
  createChat: (chat: { title?: string; modelId?: string | null; settings?: ChatSettings }) =>
    json<Chat>('POST', '/api/chats', chat),
  chat: (id: string) => json<{ chat: Chat; messages: Message[] }>('GET', chatPath(id)),
  updateChat: (id: string, patch: { title?: string; modelId?: string; settings?: ChatSettings }) =>
    json<Chat>('PATCH', chatPath(id), patch),
  deleteChat: (id: string) => json<null>('DELETE', chatPath(id)),
  exportUrl: (id: string, format: 'markdown' | 'json') => `${chatPath(id)}/export?format=${format}`,
  sendMessage: (id: string, content: string, signal: AbortSignal) =>
    openAnswer(`${chatPath(id)}/messages`, { content }, signal),
  regenerate: (id: string, signal: AbortSignal) => openAnswer(`${chatPath(id)}/regenerate`, {}, signal),
  editMessage: (id: string, messageId: string, content: string, signal: AbortSignal) =>
    openAnswer(`${chatPath(id)}/messages/${encodeURIComponent(messageId)}/edit`, { content }, signal),
  usageToday: () => json<Usage>('GET', '/api/usage/today'),
  keys: () => json<{ keys: ApiKey[] }>('GET', '/api/keys'),
  createKey: (name: string, scopes: ApiKeyScope[]) =>
    json<{ key: ApiKey; secret: string }>('POST', '/api/keys', { name, scopes }),
  deleteKey: (id: string) => json<null>('DELETE', `/api/keys/${encodeURIComponent(id)}`),
  quickstart: () => json<QuickstartStatus>('GET', '/api/quickstart'),
  startQuickstart: () => json<unknown>('POST', '/api/quickstart'),
  quickstartEventsUrl: '/api/quickstart/events',
  publishModel: (versionId: string) =>
    json<Model>('POST', `/api/models/${encodeURIComponent(versionId)}/publish`),
  setAlias: (alias: string, target: string) =>
    json<Model>('PUT', `/api/models/aliases/${encodeURIComponent(alias)}`, { target }),

  datasets: () => json<{ datasets: Dataset[] }>('GET', '/api/datasets'),
  dataset: (id: string) => json<{ dataset: Dataset }>('GET', datasetPath(id)),
  uploadDataset: (file: Blob, options: { name: string; format: DatasetFormat; validation: number }) =>
    json<{ dataset: Dataset }>(
      'POST',
      `/api/datasets?${new URLSearchParams({
        name: options.name,
        format: options.format,
        validation: String(options.validation),
      })}`,
      file,
    ),
  createSyntheticDataset: (request: SyntheticRequest) =>
    json<{ dataset: Dataset }>('POST', '/api/datasets/synthetic', request),
  previewDataset: (id: string, split: 'train' | 'validation', offset: number, limit: number) =>
    json<{ conversations: Conversation[]; total: number }>(
      'GET',
      `${datasetPath(id)}/preview?${new URLSearchParams({ split, offset: String(offset), limit: String(limit) })}`,
    ),
  deleteDataset: (id: string) => json<null>('DELETE', datasetPath(id)),

  jobTypes: () => json<{ types: Record<string, JobTypeInfo> }>('GET', '/api/job-types'),
  preflight: (request: JobRequest) => json<{ estimate: Estimate }>('POST', '/api/jobs/preflight', request),
  createJob: (request: JobRequest) => json<{ job: Job }>('POST', '/api/jobs', request),
  jobs: () => json<{ jobs: Job[]; totals: JobTotals }>('GET', '/api/jobs'),
  job: (id: string) => json<{ job: Job }>('GET', jobPath(id)),
  jobEvents: (id: string, after = 0) =>
    json<{ events: JobEvent[] }>('GET', `${jobPath(id)}/events?after=${after}`),
  jobStreamUrl: (id: string, after: number) => `${jobPath(id)}/stream${after > 0 ? `?after=${after}` : ''}`,
  cancelJob: (id: string) => json<{ job: Job }>('POST', `${jobPath(id)}/cancel`),
  retryJob: (id: string) => json<{ job: Job }>('POST', `${jobPath(id)}/retry`),

  report: (id: string) => json<{ report: Report }>('GET', reportPath(id)),
  reportUrl: (id: string, format: 'md' | 'html') => `${reportPath(id)}.${format}`,

  safetyPolicies: () =>
    json<{ policies: SafetyPolicy[]; defaults: SafetyPolicyFields; categories: string[] }>(
      'GET',
      '/api/admin/safety/policies',
    ),
  createSafetyPolicy: (fields: SafetyPolicyFields) =>
    json<{ policy: SafetyPolicy }>('POST', '/api/admin/safety/policies', fields),
  updateSafetyPolicy: (id: string, fields: SafetyPolicyFields) =>
    json<{ policy: SafetyPolicy }>('PATCH', safetyPolicyPath(id), fields),
  deleteSafetyPolicy: (id: string) => json<null>('DELETE', safetyPolicyPath(id)),
  flags: (filter: FlagFilter) =>
    json<{ flags: Flag[]; counts: FlagCounts }>(
      'GET',
      `/api/admin/flags?${new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined))}`,
    ),
  reviewFlag: (id: number, reviewed: boolean) =>
    json<{ flag: Flag }>('PATCH', `/api/admin/flags/${id}`, { reviewed }),

  webhooks: () => json<{ webhooks: Webhook[] }>('GET', '/api/webhooks'),
  createWebhook: (url: string, events: string[]) =>
    json<{ webhook: Webhook; secret: string }>('POST', '/api/webhooks', { url, events }),
  deleteWebhook: (id: string) => json<null>('DELETE', `/api/webhooks/${encodeURIComponent(id)}`),
  deliveries: (id: string) =>
    json<{ deliveries: WebhookDelivery[] }>('GET', `/api/webhooks/${encodeURIComponent(id)}/deliveries`),
  notifications: () => json<{ notifications: Notification[]; unread: number }>('GET', '/api/notifications'),
  markNotificationsRead: (ids?: number[]) =>
    json<{ unread: number }>('POST', '/api/notifications/read', ids ? { ids } : {}),
};
