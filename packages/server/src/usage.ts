// Token usage per request, for the user's daily counts; chat answers and /v1 calls record alike.
import { and, eq, gte, sum } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Actor } from './auth/actor.ts';
import type { AppContext } from './context.ts';
import type { Database } from './db/database.ts';
import { usageRecords } from './db/schema.ts';

export interface UsageRecord {
  userId: string;
  apiKeyId: string | null;
  /** The model name the caller asked for. */
  model: string;
  source: 'chat' | 'api';
  promptTokens: number;
  completionTokens: number;
}

/**
 * Records the tokens a request used; one that used none is not recorded. A failure is logged, not thrown: the
 * client has had its answer by then.
 */
export async function recordUsage(db: Database, record: UsageRecord, log: FastifyBaseLogger): Promise<void> {
  if (record.promptTokens === 0 && record.completionTokens === 0) return;
  try {
    await db.insert(usageRecords).values(record);
  } catch (error) {
    log.error({ err: error }, 'could not record usage');
  }
}

/** Tokens the actor has used since the start of the day (UTC). */
export async function usageToday(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<{ promptTokens: number; completionTokens: number }> {
  const now = new Date();
  const since = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const [row] = await options.ctx.db
    .select({ prompt: sum(usageRecords.promptTokens), completion: sum(usageRecords.completionTokens) })
    .from(usageRecords)
    .where(and(eq(usageRecords.userId, options.actor.userId), gte(usageRecords.createdAt, since)));
  return { promptTokens: Number(row?.prompt ?? 0), completionTokens: Number(row?.completion ?? 0) };
}
