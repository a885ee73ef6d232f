// Per-user API keys for /v1: the secret is shown once at creation; the row keeps its SHA-256 and a short
// prefix so people can tell their keys apart. Revoked keys stay listed nowhere and authenticate nothing.
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { apiKeys, users, type ApiKeyScope } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Actor } from './actor.ts';
import { randomToken, sha256Hex } from './tokens.ts';

const SECRET_PREFIX = 'sk-ownlm-';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['inference', 'platform', 'admin'];

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

const view = (row: typeof apiKeys.$inferSelect): ApiKeyView => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: row.scopes,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
});

/** `scopes` of a new key: a non-empty list of known scopes, `admin` only for an admin; `inference` when absent. */
function parseScopes(raw: unknown, actor: Actor): ApiKeyScope[] {
  if (raw === undefined) return ['inference'];
  if (
    !Array.isArray(raw) ||
    raw.length === 0 ||
    raw.some((scope) => !API_KEY_SCOPES.includes(scope as ApiKeyScope))
  )
    throw new AppError(
      'invalid_request',
      `scopes must be a non-empty list of ${API_KEY_SCOPES.join(', ')}`,
      'scopes',
    );
  if (raw.includes('admin') && actor.role !== 'admin')
    throw new AppError('forbidden', 'only an admin can make a key with the admin scope', 'scopes');
  return API_KEY_SCOPES.filter((scope) => raw.includes(scope));
}

/**
 * A new key for the actor, named `name` (1 to 100 characters; "API key" when absent), opening `scopes`
 * (`inference` when absent). A key never opens more than its owner may do.
 */
export async function createApiKey(options: {
  ctx: AppContext;
  actor: Actor;
  name: unknown;
  scopes?: unknown;
}): Promise<{ key: ApiKeyView; secret: string }> {
  const raw = options.name ?? 'API key';
  if (typeof raw !== 'string' || raw.trim().length === 0 || raw.length > 100)
    throw new AppError('invalid_request', 'name must be a string of 1 to 100 characters', 'name');
  const scopes = parseScopes(options.scopes, options.actor);
  const secret = `${SECRET_PREFIX}${randomToken(32)}`;
  const [row] = await options.ctx.db
    .insert(apiKeys)
    .values({
      id: newId('key'),
      userId: options.actor.userId,
      name: raw.trim(),
      prefix: secret.slice(0, SECRET_PREFIX.length + 6),
      secretHash: sha256Hex(secret),
      scopes,
    })
    .returning();
  return { key: view(row!), secret };
}

export async function listApiKeys(options: { ctx: AppContext; actor: Actor }): Promise<ApiKeyView[]> {
  const rows = await options.ctx.db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, options.actor.userId), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt));
  return rows.map(view);
}

/** Revokes the user's key; another user's key id is "not found", exactly like one that does not exist. */
export async function revokeApiKey(options: { ctx: AppContext; actor: Actor; keyId: string }): Promise<void> {
  const { keyId } = options;
  const revoked = await options.ctx.db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.userId, options.actor.userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  if (revoked.length === 0) throw new AppError('not_found', `API key ${keyId} not found`);
}

/** The key's owner when the secret is a live key, else null. */
export async function authenticateApiKey(db: Database, secret: string): Promise<Required<Actor> | null> {
  if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
  const [row] = await db
    .select({ key: apiKeys, role: users.role })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.secretHash, sha256Hex(secret)), isNull(apiKeys.revokedAt)));
  // A suspended or pending account's keys stop working at the next request.
  if (!row || (row.role !== 'admin' && row.role !== 'member')) return null;
  const role = row.role;
  // Last use is for the owner's overview; an update per request is cheap next to a generation.
  await db.update(apiKeys).set({ lastUsedAt: new Date() }).where(eq(apiKeys.id, row.key.id));
  return { userId: row.key.userId, role, apiKeyId: row.key.id, scopes: row.key.scopes };
}
