// Who is making a request: set by the authentication hook from a session cookie or an API key, and passed to
// every domain function as `actor`, which checks ownership and role itself (docs/ARCHITECTURE.md#access).
import type { FastifyRequest } from 'fastify';
import type { ApiKeyScope } from '../db/schema.ts';
import { AppError } from '../errors.ts';

export interface Actor {
  userId: string;
  /** Only active accounts act: pending and suspended ones are refused before any route runs. */
  role: 'admin' | 'member';
  /** The API key that authenticated the request; null for a browser session. */
  apiKeyId: string | null;
  /** What the API key opens; absent for a browser session, which opens everything the role allows. */
  scopes?: readonly ApiKeyScope[];
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

/**
 * The actor of a request to a route whose access policy requires one (`user` or `admin`): the access hook has
 * already refused requests without one, so a missing actor here is a route declared with the wrong policy.
 */
export function actorOf(request: FastifyRequest): Actor {
  if (request.actor === null)
    throw new Error(`${request.method} ${request.url}: actorOf() on a route that does not require an actor`);
  return request.actor;
}

/** Refuses an actor who is not an admin; `what` completes "only an admin can …". */
export function requireAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') throw new AppError('forbidden', `only an admin can ${what}`);
}
