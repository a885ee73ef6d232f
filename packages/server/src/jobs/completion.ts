// What happens when a job's command succeeds, per job type, before the job is marked succeeded: register the
// model versions a finetune made, save its report, and so on. Other modules register a handler; the workers
// (local and, through the worker API, remote) call completeJob.
import type { Database } from '../db/database.ts';
import type { JobType } from '../db/schema.ts';
import { lastJobEvents, type JobEventView } from './events.ts';
import { finishJob } from './queue.ts';
import type { JobView } from './view.ts';

/**
 * Runs when a job's command exited 0, before the job is marked succeeded. `job.result` already holds what
 * the command reported at its end (e.g. `finetune-done`'s paths; for a remote worker, rewritten to the copies
 * stored under `<home>/jobs/<id>/`); `lastEvents` are the job's last stored events, oldest first. The returned
 * object is merged into `job.result`; a throw fails the job with the error's message.
 */
export type JobCompletion = (job: JobView, lastEvents: JobEventView[]) => Promise<Record<string, unknown>>;

const completions = new Map<JobType, JobCompletion>();

/** Sets the completion handler of a job type (one per type; a second registration replaces the first). */
export function registerJobCompletion(type: JobType, handler: JobCompletion): void {
  completions.set(type, handler);
}

/**
 * Ends a job whose command succeeded: merges `result` into the job, runs its type's completion handler and
 * marks it succeeded with the handler's additions, or failed with the handler's error.
 */
export async function completeJob(
  db: Database,
  job: JobView,
  workerId: string,
  result: Record<string, unknown>,
): Promise<JobView> {
  const handler = completions.get(job.type);
  let added: Record<string, unknown> = {};
  if (handler) {
    try {
      added = await handler(
        { ...job, result: { ...job.result, ...result } },
        await lastJobEvents(db, job.id),
      );
    } catch (error) {
      return finishJob(db, {
        jobId: job.id,
        workerId,
        state: 'failed',
        result,
        error: `the job's outputs could not be registered: ${(error as Error).message}`,
      });
    }
  }
  return finishJob(db, { jobId: job.id, workerId, state: 'succeeded', result: { ...result, ...added } });
}
