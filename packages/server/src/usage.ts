// Every generation and embedding request as a usage row — who (user, key), what (the model asked for and the
// version that answered), the tokens, how it ended and how long it took — for the user's daily counts, credits
// and the admins' analytics; chat answers and /v1 calls record alike.
import { and, eq, gte, sum } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Actor } from './auth/actor.ts';
import type { AppContext } from './context.ts';
import type { Database } from './db/database.ts';
import { usageRecords } from './db/schema.ts';

export type UsageRecord = Omit<typeof usageRecords.$inferInsert, 'id' | 'createdAt'>;

/** Records one request. A failure is logged, not thrown: the client has had its answer by then. */
export async function recordUsage(db: Database, record: UsageRecord, log: FastifyBaseLogger): Promise<void> {
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
