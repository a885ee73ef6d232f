// The admins' flag queue: every input or output a safety policy blocked or flagged, and every prompt injection
// it warned about, recorded in `moderation_events` with a bounded excerpt whose PII values are replaced; admins
// list it (open or reviewed, by direction, action or category), see the counts, and mark flags reviewed.
import { emptyPiiCounts, scrubPii, type SafetyReason } from '@ownlm/studio';
import { and, arrayContains, desc, eq, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { requireAdmin, type Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { moderationEvents } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/** Characters of the checked text kept with a flag. */
export const EXCERPT_LENGTH = 300;

export type FlagRow = typeof moderationEvents.$inferSelect;
export type FlagDirection = FlagRow['direction'];
export type FlagAction = FlagRow['action'];

/** A block, flag or warning as it happened. */
export interface FlagRecord {
  userId: string;
  apiKeyId: string | null;
  model: string;
  versionId: string | null;
  policyId: string | null;
  source: FlagRow['source'];
  direction: FlagDirection;
  action: FlagAction;
  categories: string[];
  reasons: readonly SafetyReason[];
  /** The text that was checked; only a scrubbed excerpt is kept. */
  text: string;
}

/** At most `length` characters of a text, PII values replaced by placeholders. */
export function scrubbedExcerpt(text: string, length = EXCERPT_LENGTH): string {
  // Scrubbed before it is cut, so a value cut in half is still recognized; the window bounds the work.
  const scrubbed = scrubPii(text.slice(0, length * 2), emptyPiiCounts());
  return scrubbed.length > length ? `${scrubbed.slice(0, length - 1)}…` : scrubbed;
}

/**
 * Records a flag. A failure is logged, not thrown: the decision (block or let through) stands either way,
 * and a client must not see a database error for it.
 */
export async function recordFlag(ctx: AppContext, flag: FlagRecord, log: FastifyBaseLogger): Promise<void> {
  try {
    await ctx.db.insert(moderationEvents).values({
      userId: flag.userId,
      apiKeyId: flag.apiKeyId,
      model: flag.model,
      versionId: flag.versionId,
      policyId: flag.policyId,
      source: flag.source,
      direction: flag.direction,
      action: flag.action,
      categories: flag.categories,
      reasons: flag.reasons.map((r) => ({
        id: r.id,
        score: Math.round(r.score * 1000) / 1000,
        ...(r.excerpt ? { excerpt: scrubbedExcerpt(r.excerpt, 80) } : {}),
      })),
      excerpt: scrubbedExcerpt(flag.text),
    });
  } catch (error) {
    log.error({ err: error }, 'recording a safety flag failed');
  }
}

/** A flag as the admin API shows it. */
export type FlagView = FlagRow;

export interface FlagFilter {
  state: 'open' | 'reviewed' | 'all';
  direction?: FlagDirection;
  action?: FlagAction;
  category?: string;
  /** Flags older than this id (the previous page's last). */
  before?: number;
  limit: number;
}

const FLAG_DIRECTIONS: readonly FlagDirection[] = ['input', 'output'];
const FLAG_ACTIONS: readonly FlagAction[] = ['blocked', 'flagged', 'warned'];

/** The queue's filter from a query string, naming the parameter at fault. */
export function parseFlagFilter(query: Record<string, unknown>): FlagFilter {
  const one = (name: string) => {
    const value = query[name];
    if (value !== undefined && typeof value !== 'string')
      throw new AppError('invalid_request', `${name} must be given once`, name);
    return value;
  };
  const choice = <T extends string>(name: string, values: readonly T[]): T | undefined => {
    const value = one(name);
    if (value === undefined) return undefined;
    if (!values.includes(value as T))
      throw new AppError('invalid_request', `${name} must be one of ${values.join(', ')}`, name);
    return value as T;
  };
  const integer = (name: string, max: number) => {
    const value = one(name);
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1 || number > max)
      throw new AppError('invalid_request', `${name} must be a whole number from 1 to ${max}`, name);
    return number;
  };
  return {
    state: choice('state', ['open', 'reviewed', 'all'] as const) ?? 'open',
    direction: choice('direction', FLAG_DIRECTIONS),
    action: choice('action', FLAG_ACTIONS),
    category: one('category'),
    before: integer('before', Number.MAX_SAFE_INTEGER),
    limit: integer('limit', 200) ?? 50,
  };
}

/** Counts of the whole queue: open flags, and every flag by direction and action. */
export interface FlagCounts {
  open: number;
  total: number;
  byKind: { direction: FlagDirection; action: FlagAction; count: number }[];
}

async function flagCounts(ctx: AppContext): Promise<FlagCounts> {
  const rows = await ctx.db
    .select({
      direction: moderationEvents.direction,
      action: moderationEvents.action,
      count: sql<number>`count(*)::int`,
      open: sql<number>`count(*) filter (where ${moderationEvents.reviewedAt} is null)::int`,
    })
    .from(moderationEvents)
    .groupBy(moderationEvents.direction, moderationEvents.action);
  return {
    open: rows.reduce((sum, r) => sum + r.open, 0),
    total: rows.reduce((sum, r) => sum + r.count, 0),
    byKind: rows.map(({ direction, action, count }) => ({ direction, action, count })),
  };
}

/** A page of the queue, newest first, with the counts. */
export async function listFlags(options: {
  ctx: AppContext;
  actor: Actor;
  filter: FlagFilter;
}): Promise<{ flags: FlagView[]; counts: FlagCounts }> {
  const { ctx, actor, filter } = options;
  requireAdmin(actor, 'read the flag queue');
  const where: SQL[] = [];
  if (filter.state === 'open') where.push(isNull(moderationEvents.reviewedAt));
  if (filter.state === 'reviewed') where.push(isNotNull(moderationEvents.reviewedAt));
  if (filter.direction) where.push(eq(moderationEvents.direction, filter.direction));
  if (filter.action) where.push(eq(moderationEvents.action, filter.action));
  if (filter.category) where.push(arrayContains(moderationEvents.categories, [filter.category]));
  if (filter.before !== undefined) where.push(lt(moderationEvents.id, filter.before));
  const flags = await ctx.db
    .select()
    .from(moderationEvents)
    .where(and(...where))
    .orderBy(desc(moderationEvents.id))
    .limit(filter.limit);
  return { flags, counts: await flagCounts(ctx) };
}

/** Marks a flag reviewed (by the actor, now) or open again. */
export async function reviewFlag(options: {
  ctx: AppContext;
  actor: Actor;
  flagId: string;
  reviewed: unknown;
}): Promise<FlagView> {
  const { ctx, actor, flagId, reviewed } = options;
  requireAdmin(actor, 'review flags');
  if (typeof reviewed !== 'boolean')
    throw new AppError('invalid_request', 'reviewed must be true or false', 'reviewed');
  const id = Number(flagId);
  const [row] = Number.isSafeInteger(id)
    ? await ctx.db
        .update(moderationEvents)
        .set(
          reviewed
            ? { reviewedAt: new Date(), reviewedBy: actor.userId }
            : { reviewedAt: null, reviewedBy: null },
        )
        .where(eq(moderationEvents.id, id))
        .returning()
    : [];
  if (!row) throw new AppError('not_found', `flag ${flagId} does not exist; GET /api/admin/flags lists them`);
  return row;
}
