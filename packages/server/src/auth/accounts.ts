// Accounts: register (the first one becomes admin), sign in by e-mail and password, change the password.
import { count, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import {
  decoyPasswordHash,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  verifyPassword,
} from './passwords.ts';
import type { Actor } from './actor.ts';
import { deleteUserSessions, type ActiveSession, type SessionUser } from './sessions.ts';
import type { AppContext } from '../context.ts';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string') throw new AppError('invalid_request', `${field} must be a string`, field);
  return value;
}

export function readCredentials(body: unknown): { email: string; password: string } {
  if (typeof body !== 'object' || body === null)
    throw new AppError('invalid_request', 'expected a JSON object with email and password');
  const fields = body as Record<string, unknown>;
  return { email: requireString(fields, 'email').trim(), password: requireString(fields, 'password') };
}

function checkNewPassword(password: string, field: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH)
    throw new AppError(
      'invalid_request',
      `${field} must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`,
      field,
    );
}

export async function registerUser(db: Database, body: unknown): Promise<SessionUser> {
  const { email, password } = readCredentials(body);
  const rawName = (body as Record<string, unknown>).name ?? '';
  if (typeof rawName !== 'string') throw new AppError('invalid_request', 'name must be a string', 'name');
  if (!EMAIL.test(email)) throw new AppError('invalid_request', 'email is not an e-mail address', 'email');
  checkNewPassword(password, 'password');
  const name = rawName.trim().slice(0, 100) || email.split('@')[0]!;
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx) => {
    // Serialises concurrent first registrations so exactly one account becomes admin.
    await tx.execute(sql`select pg_advisory_xact_lock(7305)`);
    const [existing] = await tx
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.email}) = lower(${email})`);
    if (existing)
      throw new AppError('conflict', 'an account with this e-mail exists; sign in instead', 'email');
    const [{ n } = { n: 0 }] = await tx.select({ n: count() }).from(users);
    const [user] = await tx
      .insert(users)
      .values({ id: newId('usr'), email, name, passwordHash, role: n === 0 ? 'admin' : 'member' })
      .returning();
    return sessionUser(user!);
  });
}

export async function signIn(db: Database, body: unknown): Promise<SessionUser> {
  const { email, password } = readCredentials(body);
  if (password.length > MAX_PASSWORD_LENGTH) throw new AppError('unauthorized', 'wrong e-mail or password');
  const [user] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`);
  const ok = await verifyPassword(user?.passwordHash ?? (await decoyPasswordHash()), password);
  if (!user || !ok) throw new AppError('unauthorized', 'wrong e-mail or password');
  return sessionUser(user);
}

/** The account as a session carries it; pending and suspended accounts sign in to nothing. */
function sessionUser(user: typeof users.$inferSelect): SessionUser {
  if (user.role === 'pending')
    throw new AppError(
      'forbidden',
      'your account waits for an admin to approve it; try again once they have',
    );
  if (user.role === 'suspended')
    throw new AppError('forbidden', 'this account is suspended; ask an admin of this platform');
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}

/**
 * Changes the actor's password after checking the current one, and signs out every other session (a stolen
 * session ends with the old password). Only from a browser session: an API key cannot change a password.
 */
export async function changePassword(options: {
  ctx: AppContext;
  actor: Actor;
  session: ActiveSession | null;
  body: unknown;
}): Promise<void> {
  const { ctx, actor, session } = options;
  if (session === null || actor.apiKeyId !== null)
    throw new AppError('forbidden', 'change your password signed in to the web app, not with an API key');
  if (typeof options.body !== 'object' || options.body === null)
    throw new AppError('invalid_request', 'expected a JSON object with currentPassword and newPassword');
  const fields = options.body as Record<string, unknown>;
  const current = requireString(fields, 'currentPassword');
  const next = requireString(fields, 'newPassword');
  checkNewPassword(next, 'newPassword');
  const [user] = await ctx.db.select().from(users).where(eq(users.id, actor.userId));
  if (!user || current.length > MAX_PASSWORD_LENGTH || !(await verifyPassword(user.passwordHash, current)))
    throw new AppError('forbidden', 'the current password is wrong', 'currentPassword');
  await ctx.db
    .update(users)
    .set({ passwordHash: await hashPassword(next) })
    .where(eq(users.id, actor.userId));
  await deleteUserSessions(ctx.db, actor.userId, session.tokenHash);
}

/** Ends every browser session of the actor, this one included; API keys are revoked on their own page. */
export async function signOutEverywhere(options: { ctx: AppContext; actor: Actor }): Promise<void> {
  await deleteUserSessions(options.ctx.db, options.actor.userId);
}
