// A signed-up user for the tests that drive the whole app in-process.
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';

export interface SignedUp {
  userId: string;
  /** What a browser sends with every request: the session cookie and the CSRF token. */
  headers: Record<string, string>;
}

/** Registers `email` on the app (the first account is the admin). */
export async function signUp(app: FastifyInstance, email: string): Promise<SignedUp> {
  const registered = await app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email, password: 'a long enough password', name: email },
  });
  assert.equal(registered.statusCode, 201, registered.body);
  const cookie = registered.cookies.find((c) => c.name === 'ownlm_session')!;
  const body = registered.json() as { csrfToken: string; user: { id: string } };
  return {
    userId: body.user.id,
    headers: { cookie: `ownlm_session=${cookie.value}`, 'x-csrf-token': body.csrfToken },
  };
}
