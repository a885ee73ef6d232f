// Tokens for remote workers (`ownlm worker --token`), created by an admin. Like API keys, the secret is shown
// once and only its SHA-256 is stored; a worker token opens the worker API only, and nothing else opens it.
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { workerTokens } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { requireAdmin, type Actor } from './actor.ts';
import { randomToken, sha256Hex } from './tokens.ts';

export const WORKER_TOKEN_PREFIX = 'ow-worker-';

export interface WorkerTokenView {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const view = (row: typeof workerTokens.$inferSelect): WorkerTokenView => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
});

/** Whether a bearer secret has the worker-token form (checked by the worker API, not as an API key). */
export const isWorkerSecret = (secret: string) => secret.startsWith(WORKER_TOKEN_PREFIX);

/** A new worker token (admins only), named `name` (1 to 100 characters). */
export async function createWorkerToken(options: {
  ctx: AppContext;
  actor: Actor;
  name: unknown;
}): Promise<{ token: WorkerTokenView; secret: string }> {
  requireAdmin(options.actor, 'manage worker tokens');
  const { name } = options;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100)
    throw new AppError('invalid_request', 'name must be a string of 1 to 100 characters', 'name');
  const secret = `${WORKER_TOKEN_PREFIX}${randomToken(32)}`;
  const [row] = await options.ctx.db
    .insert(workerTokens)
    .values({
      id: newId('wkt'),
      userId: options.actor.userId,
      name: name.trim(),
      prefix: secret.slice(0, WORKER_TOKEN_PREFIX.length + 6),
      secretHash: sha256Hex(secret),
    })
    .returning();
  return { token: view(row!), secret };
}

export async function listWorkerTokens(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<WorkerTokenView[]> {
  requireAdmin(options.actor, 'manage worker tokens');
  const rows = await options.ctx.db
    .select()
    .from(workerTokens)
    .where(isNull(workerTokens.revokedAt))
    .orderBy(desc(workerTokens.createdAt));
  return rows.map(view);
}

export async function revokeWorkerToken(options: {
  ctx: AppContext;
  actor: Actor;
  tokenId: string;
}): Promise<void> {
  requireAdmin(options.actor, 'manage worker tokens');
  const { tokenId } = options;
  const revoked = await options.ctx.db
    .update(workerTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(workerTokens.id, tokenId), isNull(workerTokens.revokedAt)))
    .returning({ id: workerTokens.id });
  if (revoked.length === 0) throw new AppError('not_found', `worker token ${tokenId} not found`);
}

/** The token's id when the secret is a live worker token, else null. */
export async function authenticateWorkerToken(
  db: Database,
  secret: string,
): Promise<{ tokenId: string } | null> {
  if (!isWorkerSecret(secret) || secret.length > 200) return null;
  const [row] = await db
    .select({ id: workerTokens.id })
    .from(workerTokens)
    .where(and(eq(workerTokens.secretHash, sha256Hex(secret)), isNull(workerTokens.revokedAt)));
  if (!row) return null;
  await db.update(workerTokens).set({ lastUsedAt: new Date() }).where(eq(workerTokens.id, row.id));
  return { tokenId: row.id };
}
