// In-app notifications: one when a job ends (succeeded, failed, cancelled), unread until the user reads it.
import { and, count, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { notifications, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { JobView } from '../jobs/view.ts';

export interface NotificationView {
  id: number;
  jobId: string | null;
  title: string;
  body: string;
  readAt: Date | null;
  createdAt: Date;
}

const ENDED = { succeeded: 'succeeded', failed: 'failed', cancelled: 'was cancelled' } as const;

/** The notification for a job that has ended; null for any other state. */
export function jobEndedNotification(job: JobView): { title: string; body: string } | null {
  if (!(job.state in ENDED)) return null;
  const outcome = ENDED[job.state as keyof typeof ENDED];
  const title = `${job.type} job '${job.name}' ${outcome}`;
  const minutes = job.wallSeconds / 60;
  const took = minutes >= 1 ? `${minutes.toFixed(1)} min` : `${Math.round(job.wallSeconds)} s`;
  const body =
    job.state === 'failed'
      ? `Job ${job.id} failed after ${took}: ${job.error ?? 'no error was reported'}. Retry it from its page.`
      : job.state === 'cancelled'
        ? `Job ${job.id} was cancelled after ${took}; retry resumes it from its last checkpoint.`
        : `Job ${job.id} finished in ${took}.`;
  return { title, body };
}

/** Stores the notification for an ended job (nothing for other states, or for an owner not in this database). */
export async function notifyJobEnded(db: Database, job: JobView): Promise<NotificationView | null> {
  const message = jobEndedNotification(job);
  if (message === null) return null;
  const [owner] = await db.select({ id: users.id }).from(users).where(eq(users.id, job.userId));
  if (!owner) return null;
  const [row] = await db
    .insert(notifications)
    .values({ userId: job.userId, jobId: job.id, ...message })
    .returning();
  return row!;
}

async function unreadCount(db: Database, actor: Actor): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(notifications)
    .where(and(eq(notifications.userId, actor.userId), isNull(notifications.readAt)));
  return row?.n ?? 0;
}

/** The actor's last 100 notifications, newest first, and how many are unread in all. */
export async function listNotifications(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<{ notifications: NotificationView[]; unread: number }> {
  const rows = await options.ctx.db
    .select()
    .from(notifications)
    .where(eq(notifications.userId, options.actor.userId))
    .orderBy(desc(notifications.id))
    .limit(100);
  const list = rows.map(({ userId: _owner, ...rest }) => rest);
  return { notifications: list, unread: await unreadCount(options.ctx.db, options.actor) };
}

/** Marks the given notifications (the actor's own; others' ids change nothing), or all, as read. */
export async function markNotificationsRead(options: {
  ctx: AppContext;
  actor: Actor;
  ids: unknown;
}): Promise<{ unread: number }> {
  const { actor, ids } = options;
  const { db } = options.ctx;
  if (ids !== undefined && (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id > 0)))
    throw new AppError(
      'invalid_request',
      'ids must be an array of notification ids (positive integers)',
      'ids',
    );
  const mine = and(eq(notifications.userId, actor.userId), isNull(notifications.readAt));
  await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(ids === undefined ? mine : and(mine, inArray(notifications.id, ids as number[])));
  return { unread: await unreadCount(db, actor) };
}
