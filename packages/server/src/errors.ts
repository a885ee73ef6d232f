// One error class with a closed set of codes. Domain code throws AppError; the HTTP layer maps the code to a
// status and to the OpenAI error shape (docs/FORMATS.md#openai-errors). Messages say how to fix the problem.

const statusByCode = {
  invalid_request: 400,
  unauthorized: 401,
  invalid_api_key: 401,
  csrf_failed: 403,
  forbidden: 403,
  not_found: 404,
  model_not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  misdirected: 421,
  context_length_exceeded: 400,
  // Blocked by the platform's safety policy (Azure OpenAI's code for a filtered prompt).
  content_filter: 400,
  rate_limited: 429,
  // A session whose password an admin reset opens nothing but the password change until it is changed.
  password_change_required: 403,
  server_error: 500,
  not_supported: 501,
  overloaded: 503,
  // An outbound request (server/src/outbound): refused before connecting, or failed at the other end.
  outbound_refused: 400,
  outbound_unreachable: 502,
  outbound_too_large: 502,
  outbound_timeout: 504,
} as const;

export type ErrorCode = keyof typeof statusByCode;

/** The OpenAI error `type` for each HTTP status class. */
function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return status === 503 ? 'overloaded_error' : 'server_error';
  return 'invalid_request_error';
}

export class AppError extends Error {
  readonly code: ErrorCode;
  /** The request field at fault, when there is one (OpenAI's `param`). */
  readonly param: string | null;
  /** For a refusal that ends by itself (a rate limit): when to try again, sent as `Retry-After`. */
  readonly retryAfterSeconds: number | null;

  constructor(
    code: ErrorCode,
    message: string,
    param: string | null = null,
    options: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.param = param;
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
  }

  get status(): number {
    return statusByCode[this.code];
  }

  /** `{"error":{"message","type","param","code"}}` with all four keys present. */
  toOpenAI(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return {
      error: { message: this.message, type: openAiType(this.status), param: this.param, code: this.code },
    };
  }
}
