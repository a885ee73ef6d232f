// Who is making a request: set by the authentication hook from a session cookie or an API key, read by routes.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

export interface Actor {
  userId: string;
  role: 'admin' | 'user';
  /** The API key that authenticated the request; null for a browser session. */
  apiKeyId: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

/** The request's actor, or a 401 in the shape the client expects. */
export function requireActor(request: FastifyRequest): Actor {
  if (request.actor === null)
    throw new AppError(
      request.url.startsWith('/v1/') ? 'invalid_api_key' : 'unauthorized',
      request.url.startsWith('/v1/')
        ? 'missing or invalid API key: send `Authorization: Bearer <key>` with a key from the API keys page'
        : 'not signed in',
    );
  return request.actor;
}
