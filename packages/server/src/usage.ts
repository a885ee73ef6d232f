// Token usage per request, for the user's daily counts; chat answers and /v1 calls record alike.
import { and, eq, gte, sum } from 'drizzle-orm';
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

export async function recordUsage(db: Database, record: UsageRecord): Promise<void> {
  await db.insert(usageRecords).values(record);
}

/** Tokens the user has used since `since` (the start of their day). */
export async function usageSince(
  db: Database,
  userId: string,
  since: Date,
): Promise<{ promptTokens: number; completionTokens: number }> {
  const [row] = await db
    .select({ prompt: sum(usageRecords.promptTokens), completion: sum(usageRecords.completionTokens) })
    .from(usageRecords)
    .where(and(eq(usageRecords.userId, userId), gte(usageRecords.createdAt, since)));
  return { promptTokens: Number(row?.prompt ?? 0), completionTokens: Number(row?.completion ?? 0) };
}
