// A user's webhook endpoints for job events: create (the signing secret is shown once), list, delete, and the
// log of deliveries. Every function takes the actor and finds objects only among the actor's own.
import { and, desc, eq } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import { randomToken } from '../auth/tokens.ts';
import type { AppContext } from '../context.ts';
import { webhookDeliveries, webhooks } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Outbound } from '../outbound/outbound.ts';

/** The job events a webhook can receive (STUDIO-API.md). */
export const WEBHOOK_EVENTS = [
  'job.queued',
  'job.started',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookView {
  id: string;
  url: string;
  /** Empty means every event. */
  events: string[];
  active: boolean;
  createdAt: Date;
}

export interface DeliveryView {
  id: number;
  event: string;
  state: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

const view = (row: typeof webhooks.$inferSelect): WebhookView => ({
  id: row.id,
  url: row.url,
  events: row.events,
  active: row.active,
  createdAt: row.createdAt,
});

/**
 * An absolute http(s) URL of at most 2,000 characters whose host is not a non-public address whatever DNS says
 * (a name is checked again at each delivery, since what it resolves to can change), or an error naming `url`.
 */
export function validateWebhookUrl(raw: unknown, outbound: Outbound): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2000)
    throw new AppError(
      'invalid_request',
      'url must be an http:// or https:// URL of at most 2000 characters',
      'url',
    );
  return outbound.checkWithoutResolving(raw, 'url').toString();
}

function validateEvents(raw: unknown): WebhookEvent[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new AppError(
      'invalid_request',
      `events must be an array of ${WEBHOOK_EVENTS.join(', ')}`,
      'events',
    );
  for (const [index, event] of raw.entries())
    if (!WEBHOOK_EVENTS.includes(event as WebhookEvent))
      throw new AppError(
        'invalid_request',
        `events[${index}] must be one of ${WEBHOOK_EVENTS.join(', ')}, got ${JSON.stringify(event)}`,
        `events[${index}]`,
      );
  return [...new Set(raw as WebhookEvent[])];
}

/** Creates an endpoint; the secret signing its deliveries is returned here only. */
export async function createWebhook(options: {
  ctx: AppContext;
  actor: Actor;
  url: unknown;
  events: unknown;
}): Promise<{ webhook: WebhookView; secret: string }> {
  const url = validateWebhookUrl(options.url, options.ctx.outbound);
  const events = validateEvents(options.events);
  const secret = `whsec_${randomToken(32)}`;
  const [row] = await options.ctx.db
    .insert(webhooks)
    .values({ id: newId('wh'), userId: options.actor.userId, url, secret, events })
    .returning();
  return { webhook: view(row!), secret };
}

export async function listWebhooks(options: { ctx: AppContext; actor: Actor }): Promise<WebhookView[]> {
  const rows = await options.ctx.db
    .select()
    .from(webhooks)
    .where(eq(webhooks.userId, options.actor.userId))
    .orderBy(desc(webhooks.createdAt));
  return rows.map(view);
}

async function ownWebhook(ctx: AppContext, actor: Actor, webhookId: string) {
  const [row] = await ctx.db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, webhookId), eq(webhooks.userId, actor.userId)));
  if (!row)
    throw new AppError('not_found', `webhook ${webhookId} does not exist; GET /api/webhooks lists yours`);
  return row;
}

/** Deletes the endpoint and its delivery log; pending deliveries are dropped with it. */
export async function deleteWebhook(options: {
  ctx: AppContext;
  actor: Actor;
  webhookId: string;
}): Promise<void> {
  const row = await ownWebhook(options.ctx, options.actor, options.webhookId);
  await options.ctx.db.delete(webhooks).where(eq(webhooks.id, row.id));
}

/** The endpoint's deliveries, newest first (the last 200). */
export async function listDeliveries(options: {
  ctx: AppContext;
  actor: Actor;
  webhookId: string;
}): Promise<DeliveryView[]> {
  const row = await ownWebhook(options.ctx, options.actor, options.webhookId);
  const rows = await options.ctx.db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, row.id))
    .orderBy(desc(webhookDeliveries.id))
    .limit(200);
  return rows.map((d) => ({
    id: d.id,
    event: d.event,
    state: d.state,
    attempts: d.attempts,
    responseStatus: d.responseStatus,
    lastError: d.lastError,
    createdAt: d.createdAt,
    deliveredAt: d.deliveredAt,
  }));
}
