// What happens on the server when a job changes state: webhook deliveries are queued for the owner's endpoints,
// and an ended job leaves an in-app notification. Listens to the job hub; never holds the job up.
import type { Database } from '../db/database.ts';
import { jobHub } from '../jobs/events.ts';
import { notifyJobEnded } from '../notifications/notifications.ts';
import type { WebhookDispatcher } from './delivery.ts';

/** Subscribes to the job hub until the returned function is called. */
export function listenToJobChanges(options: {
  db: Database;
  webhooks: WebhookDispatcher;
  log: { error(message: string): void };
}): () => void {
  const { db, webhooks, log } = options;
  return jobHub.subscribe((change) => {
    if (change.kind !== 'state') return;
    const { job } = change;
    void webhooks
      .enqueueJobState(job)
      .catch((error: unknown) => log.error(`webhooks for job ${job.id}: ${(error as Error).message}`));
    void notifyJobEnded(db, job).catch((error: unknown) =>
      log.error(`notification for job ${job.id}: ${(error as Error).message}`),
    );
  });
}
