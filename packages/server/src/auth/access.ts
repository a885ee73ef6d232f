// Who may call each route. Every route declares its policy in its options where it is registered
// (`app.get(path, access('user'), handler)`); a route without one cannot be registered, and one hook enforces
// the policy after the caller has been identified, before any handler runs (docs/ARCHITECTURE.md#access).
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { AppError } from '../errors.ts';

/**
 * - `anonymous`: anyone, signed in or not.
 * - `inference`: the OpenAI-compatible API: a signed-in user, or an API key with the `inference` scope.
 * - `user`: the platform API: a signed-in user, or an API key with the `platform` scope.
 * - `admin`: an admin, signed in or by an API key with the `admin` scope.
 * - `worker`: a remote worker holding a live worker token (which opens these routes and nothing else).
 */
export type Access = 'anonymous' | 'inference' | 'user' | 'admin' | 'worker';

export const ACCESS_POLICIES: readonly Access[] = ['anonymous', 'inference', 'user', 'admin', 'worker'];

/** The scope an API key needs for each policy that admits keys. */
const KEY_SCOPE = { inference: 'inference', user: 'platform', admin: 'admin' } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyInstance {
    /** Every API route with its policy, in registration order. */
    routeAccess: RouteAccess[];
  }
}

/** Route options that declare the policy; spread them when the route has other options. */
export function access(policy: Access): RouteShorthandOptions & { config: { access: Access } } {
  return { config: { access: policy } };
}

/** A route as the access table lists it. */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

/**
 * Makes `scope` refuse to register a route that declares no policy, and lists the routes it registers in
 * `table` (the app's `routeAccess`, from which the access tests are generated).
 */
export function requireAccessDeclarations(scope: FastifyInstance, table: RouteAccess[]): void {
  scope.addHook('onRoute', (route) => {
    const policy = route.config?.access;
    const methods = [route.method].flat();
    if (policy === undefined || !ACCESS_POLICIES.includes(policy))
      throw new Error(
        `${methods.join(',')} ${route.url} declares no access policy: register it with access(${ACCESS_POLICIES.map((p) => `'${p}'`).join(' | ')})`,
      );
    // Fastify adds a HEAD route for every GET; it is the same route.
    for (const method of methods)
      if (method !== 'HEAD') table.push({ method, url: route.url, access: policy });
  });
}

/** The refusal for a request without the caller the policy asks for. */
function refusal(request: FastifyRequest, policy: Exclude<Access, 'anonymous'>): AppError {
  if (policy === 'worker')
    return new AppError(
      'unauthorized',
      'the worker API needs a worker token: `Authorization: Bearer ow-worker-…` from POST /api/worker-tokens',
    );
  const { actor } = request;
  if (actor === null)
    return request.url.startsWith('/v1/')
      ? new AppError(
          'invalid_api_key',
          'missing or invalid API key: send `Authorization: Bearer <key>` with a key from the API keys page',
        )
      : new AppError('unauthorized', 'not signed in');
  if (policy === 'admin' && actor.role !== 'admin')
    return new AppError('forbidden', `${request.method} ${request.routeOptions.url} is for admins only`);
  return new AppError(
    'forbidden',
    `this API key opens ${actor.scopes?.join(', ')} only; ${request.method} ${request.routeOptions.url} needs the ${KEY_SCOPE[policy]} scope (create such a key on the API keys page)`,
  );
}

/** Enforces the matched route's policy. Runs after authentication, in the same `onRequest` phase. */
export function enforceAccess(request: FastifyRequest): void {
  const policy = request.routeOptions.config.access;
  // Only unmatched paths (404) and the web app's static files, registered outside the declaring scope, have none.
  if (policy === undefined || policy === 'anonymous') return;
  if (policy === 'worker') {
    if (request.worker === null) throw refusal(request, policy);
    return;
  }
  const { actor } = request;
  const allowed =
    actor !== null &&
    (policy !== 'admin' || actor.role === 'admin') &&
    (actor.scopes === undefined || actor.scopes.includes(KEY_SCOPE[policy]));
  if (!allowed) throw refusal(request, policy);
}
