// What happens on the server when a job changes state: webhook deliveries are queued for the owner's endpoints,
// and an ended job leaves an in-app notification. Listens to the app's job hub; never holds the job up.
import type { AppContext } from '../context.ts';
import { notifyJobEnded } from '../notifications/notifications.ts';
import type { WebhookDispatcher } from './delivery.ts';

/**
 * Subscribes to the app's job hub; the returned function unsubscribes and waits for the rows being written (so
 * the state changes of jobs released at shutdown are stored before the database closes).
 */
export function listenToJobChanges(options: {
  ctx: AppContext;
  webhooks: WebhookDispatcher;
  log: { error(message: string): void };
}): () => Promise<void> {
  const { ctx, webhooks, log } = options;
  const writing = new Set<Promise<unknown>>();
  const track = (what: string, work: Promise<unknown>) => {
    const done = work.catch((error: unknown) => log.error(`${what}: ${(error as Error).message}`));
    writing.add(done);
    void done.finally(() => writing.delete(done));
  };
  const unsubscribe = ctx.jobHub.subscribe((change) => {
    if (change.kind !== 'state') return;
    const { job } = change;
    track(`webhooks for job ${job.id}`, webhooks.enqueueJobState(job));
    track(`notification for job ${job.id}`, notifyJobEnded(ctx.db, job));
  });
  return async () => {
    unsubscribe();
    await Promise.all(writing);
  };
}
