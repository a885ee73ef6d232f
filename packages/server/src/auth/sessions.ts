// Browser sessions: the cookie carries a random token, the row its hash, the user and the CSRF token that
// every cookie-authenticated mutation must echo in a header.
import { and, eq, gt, lt, ne } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { sessions, users } from '../db/schema.ts';
import { randomToken, sha256Hex } from './tokens.ts';

export const SESSION_COOKIE = 'ownlm_session';

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'member';
}

export interface ActiveSession {
  user: SessionUser;
  csrfToken: string;
  tokenHash: string;
}

export async function createSession(
  db: Database,
  userId: string,
  days: number,
): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const token = randomToken();
  const csrfToken = randomToken();
  const expiresAt = new Date(Date.now() + days * 86_400_000);
  // Expired sessions are swept whenever someone signs in; there is no other timer.
  await db.delete(sessions).where(lt(sessions.expiresAt, new Date()));
  await db.insert(sessions).values({ tokenHash: sha256Hex(token), userId, csrfToken, expiresAt });
  return { token, csrfToken, expiresAt };
}

export async function findSession(db: Database, token: string): Promise<ActiveSession | null> {
  const tokenHash = sha256Hex(token);
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, new Date())));
  const role = row?.user.role;
  // A suspended or pending account's sessions stop working at the next request.
  if (!row || (role !== 'admin' && role !== 'member')) return null;
  const { id, email, name } = row.user;
  return { user: { id, email, name, role }, csrfToken: row.session.csrfToken, tokenHash };
}

export async function deleteSession(db: Database, tokenHash: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.tokenHash, tokenHash));
}

/** Ends every session of the user but `keepTokenHash` (when given): the other devices are signed out. */
export async function deleteUserSessions(
  db: Database,
  userId: string,
  keepTokenHash?: string,
): Promise<void> {
  await db
    .delete(sessions)
    .where(
      keepTokenHash === undefined
        ? eq(sessions.userId, userId)
        : and(eq(sessions.userId, userId), ne(sessions.tokenHash, keepTokenHash)),
    );
}
