// Identifies the caller: `request.actor` from an API key (`Authorization: Bearer`, the /v1 way) or the session
// cookie (the web app's way), `request.worker` from a worker token; then enforces the route's access policy
// (auth/access.ts). Cookie-authenticated mutations are guarded against cross-site requests: the Origin, when
// sent, must be this site, and the session's CSRF token must come back in the `x-csrf-token` header.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { authenticateApiKey } from './api-keys.ts';
import { enforceAccess } from './access.ts';
import { findSession, SESSION_COOKIE, type ActiveSession } from './sessions.ts';
import { constantTimeEqual } from './tokens.ts';
import { authenticateWorkerToken, isWorkerSecret } from './worker-tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    session: ActiveSession | null;
    /** The worker token that authenticated the request; it opens the worker API only. */
    worker: { tokenId: string } | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request's Origin (when the browser sent one) is this server. */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

export function registerAuthentication(app: FastifyInstance, db: Database): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('session', null);
  app.decorateRequest('worker', null);
  app.addHook('onRequest', async (request) => {
    await identify(request, db);
    enforceAccess(request);
  });
}

async function identify(request: FastifyRequest, db: Database): Promise<void> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // A worker token makes no actor: it opens no user route.
    if (match && isWorkerSecret(match[1]!)) {
      request.worker = await authenticateWorkerToken(db, match[1]!);
      return;
    }
    const key = match ? await authenticateApiKey(db, match[1]!) : null;
    if (key === null)
      throw new AppError(
        'invalid_api_key',
        'Incorrect API key provided. Create a key on the API keys page and send it as `Authorization: Bearer <key>`.',
      );
    request.actor = key;
    return;
  }
  const mutation = !SAFE_METHODS.has(request.method);
  if (mutation && !sameOrigin(request))
    throw new AppError('csrf_failed', 'cross-site request refused: the Origin header is not this site');
  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined) return;
  const session = await findSession(db, token);
  if (session === null) return;
  if (mutation) {
    const header = request.headers['x-csrf-token'];
    if (typeof header !== 'string' || !constantTimeEqual(header, session.csrfToken))
      throw new AppError(
        'csrf_failed',
        'missing or wrong x-csrf-token header; reload the page and try again',
      );
  }
  request.session = session;
  request.actor = { userId: session.user.id, role: session.user.role, apiKeyId: null };
}
