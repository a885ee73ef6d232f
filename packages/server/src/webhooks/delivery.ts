// Webhook deliveries: a job's state change becomes one row in webhook_deliveries per subscribed endpoint, and a
// loop posts due rows, signed (STUDIO-API.md), retrying non-2xx answers and network errors with exponential
// backoff until the attempt limit. The queue is the table, so deliveries pending at a restart are sent after it.
// Posts go through the outbound module (no internal addresses, no redirects followed), and the log keeps only
// the status code or the outbound error's reason: the endpoint's answer is never read, so never shown.
import { createHmac, randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, lte, min } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { webhookDeliveries, webhooks } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { JobView } from '../jobs/view.ts';
import type { Outbound } from '../outbound/outbound.ts';
import { WEBHOOK_EVENTS, type WebhookEvent } from './webhooks.ts';

/** `v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, the `ownlm-webhook-signature` header. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookDispatcherOptions {
  db: Database;
  outbound: Outbound;
  /** Delay before the first retry; each further retry waits twice as long. */
  backoffMs: number;
  /** Attempts before a delivery is `failed`. */
  attempts: number;
  /** How long one POST may take before it counts as failed. */
  timeoutMs?: number;
  log: { warn(message: string): void; error(message: string): void };
}

/** Longest sleep between looks at the table (a row made by another server process is seen within it). */
const IDLE_POLL_MS = 30_000;
const BATCH = 5;
/** Time beyond the POST timeouts a claimed batch stays held (the database updates around each attempt). */
const CLAIM_MARGIN_MS = 30_000;

export class WebhookDispatcher {
  private readonly options: WebhookDispatcherOptions;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(options: WebhookDispatcherOptions) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Starts sending, beginning with whatever is pending in the table (deliveries left by a restart). */
  start(): void {
    this.kick();
  }

  /** Stops the loop after the POST in flight, if any; pending rows stay pending for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Queues the job's state as `job.<state>` (`running` is `job.started`) for each of the owner's active endpoints subscribed to it. */
  async enqueueJobState(job: JobView): Promise<number> {
    const event = `job.${job.state === 'running' ? 'started' : job.state}` as WebhookEvent;
    if (!WEBHOOK_EVENTS.includes(event)) return 0;
    const endpoints = await this.options.db
      .select({ id: webhooks.id, events: webhooks.events })
      .from(webhooks)
      .where(and(eq(webhooks.userId, job.userId), eq(webhooks.active, true)));
    const subscribed = endpoints.filter((w) => w.events.length === 0 || w.events.includes(event));
    if (subscribed.length === 0) return 0;
    const createdAt = new Date();
    const { userId: _owner, ...shown } = job;
    await this.options.db.insert(webhookDeliveries).values(
      subscribed.map((w) => ({
        webhookId: w.id,
        event,
        // The same id on every attempt, so a receiver can drop a delivery it has already processed.
        body: JSON.stringify({ id: `evt_${randomUUID()}`, event, createdAt, data: { job: shown } }),
        state: 'pending' as const,
        nextAttemptAt: createdAt,
        createdAt,
      })),
    );
    this.kick();
    return subscribed.length;
  }

  /** Runs the loop now (or once more after the current pass). */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Sends what is due, then sleeps until the next pending delivery is due (or IDLE_POLL_MS). */
  private async loop(): Promise<void> {
    const log = (error: unknown) => this.options.log.error(`webhooks: ${(error as Error).message}`);
    for (;;) {
      this.again = false;
      await this.pass().catch(log);
      if (this.stopped) return;
      if (this.again) continue;
      let next: Date | null = null;
      try {
        const [row] = await this.options.db
          .select({ at: min(webhookDeliveries.nextAttemptAt) })
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.state, 'pending'));
        next = row?.at ?? null;
      } catch (error) {
        log(error);
      }
      // A delivery queued while the table was read is sent now rather than after the sleep.
      if (this.stopped) return;
      if (this.again) continue;
      const wait = next ? Math.max(0, next.getTime() - Date.now()) : IDLE_POLL_MS;
      this.timer = setTimeout(() => this.kick(), Math.min(wait, IDLE_POLL_MS));
      this.timer.unref();
      return;
    }
  }

  /**
   * Takes up to BATCH due deliveries for this process: rows locked with SKIP LOCKED and pushed into the future
   * for as long as sending them can take, so another server on the same database skips them, and a process
   * that dies holding them leaves them to be taken again after that time.
   */
  private async claim(): Promise<
    { delivery: typeof webhookDeliveries.$inferSelect; url: string; secret: string }[]
  > {
    const { db } = this.options;
    const now = new Date();
    const held = new Date(now.getTime() + BATCH * this.timeoutMs + CLAIM_MARGIN_MS);
    const ids = await db.transaction(async (tx) => {
      const rows = await tx
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.state, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
        .orderBy(asc(webhookDeliveries.id))
        .limit(BATCH)
        .for('update', { skipLocked: true });
      if (rows.length > 0)
        await tx
          .update(webhookDeliveries)
          .set({ nextAttemptAt: held })
          .where(
            inArray(
              webhookDeliveries.id,
              rows.map((r) => r.id),
            ),
          );
      return rows.map((r) => r.id);
    });
    if (ids.length === 0) return [];
    return db
      .select({ delivery: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(inArray(webhookDeliveries.id, ids))
      .orderBy(asc(webhookDeliveries.id));
  }

  /** Sends every due delivery, oldest first. */
  private async pass(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const due = await this.claim();
      if (due.length === 0) return;
      for (const [index, row] of due.entries()) {
        if (this.stopped) {
          // Claimed but not sent: due again at once for the next start.
          const rest = due.slice(index).map((r) => r.delivery.id);
          await this.options.db
            .update(webhookDeliveries)
            .set({ nextAttemptAt: new Date() })
            .where(and(inArray(webhookDeliveries.id, rest), eq(webhookDeliveries.state, 'pending')));
          return;
        }
        await this.attempt(row.delivery, row.url, row.secret);
      }
    }
  }

  private async attempt(delivery: typeof webhookDeliveries.$inferSelect, url: string, secret: string) {
    const { db, backoffMs, attempts: limit } = this.options;
    const timestamp = Math.floor(Date.now() / 1000);
    const eventId = (JSON.parse(delivery.body) as { id: string }).id;
    let status: number | null = null;
    let error: string | null = null;
    try {
      // A redirect comes back as the answer (a non-2xx status to fix at the endpoint), never followed.
      const response = await this.options.outbound.request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'ownlm-webhooks',
          'ownlm-webhook-id': eventId,
          'ownlm-webhook-timestamp': String(timestamp),
          'ownlm-webhook-signature': signWebhook(secret, timestamp, delivery.body),
        },
        body: delivery.body,
        timeoutMs: this.timeoutMs,
      });
      response.discard();
      status = response.status;
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (failure) {
      if (!(failure instanceof AppError)) throw failure;
      error = failure.message;
    }
    const attempts = delivery.attempts + 1;
    const succeeded = error === null;
    const failed = !succeeded && attempts >= limit;
    await db
      .update(webhookDeliveries)
      .set({
        attempts,
        responseStatus: status,
        lastError: error,
        state: succeeded ? 'succeeded' : failed ? 'failed' : 'pending',
        deliveredAt: succeeded ? new Date() : null,
        nextAttemptAt: succeeded || failed ? null : new Date(Date.now() + backoffMs * 2 ** (attempts - 1)),
      })
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.state, 'pending')));
    if (failed)
      this.options.log.warn(
        `webhook delivery ${delivery.id} to ${url} failed after ${attempts} attempts: ${error}`,
      );
  }
}
