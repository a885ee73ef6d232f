// What happens when a job's command succeeds, per job type, before the job is marked succeeded: register the
// model versions a finetune made, save its report, and so on. Each app holds its handlers (`ctx.jobCompletions`,
// set by buildApp); the workers (local and, through the worker API, remote) call completeJob.
import type { AppContext } from '../context.ts';
import type { JobType } from '../db/schema.ts';
import { lastJobEvents, type JobEventView } from './events.ts';
import { jobArtifacts } from './job-types.ts';
import { finishJob } from './queue.ts';
import type { JobView } from './view.ts';

/**
 * Runs when a job's command exited 0, before the job is marked succeeded. `job.result` already holds what the
 * command reported at its end (e.g. `finetune-done`'s files, relative to the job folder); `artifacts` are those
 * files as stored under the job's `run/` folder on this server, the only files a handler reads; `lastEvents` are
 * the job's last stored events, oldest first. The returned object is merged into `job.result`; a throw fails the
 * job with the error's message.
 */
export type JobCompletion = (options: {
  ctx: AppContext;
  job: JobView;
  artifacts: Record<string, string>;
  lastEvents: JobEventView[];
}) => Promise<Record<string, unknown>>;

/** The completion handler of each job type that has one. */
export type JobCompletions = Partial<Record<JobType, JobCompletion>>;

/**
 * Ends a job whose command succeeded: finds each file its result names under the job's `run/` folder (a 400 for
 * anything else, before anything changes), merges `result` into the job, runs its type's completion handler and
 * marks it succeeded with the handler's additions, or failed with the handler's error.
 */
export async function completeJob(options: {
  ctx: AppContext;
  job: JobView;
  workerId: string;
  result: Record<string, unknown>;
}): Promise<JobView> {
  const { ctx, job, workerId, result } = options;
  const artifacts = jobArtifacts(ctx.config.home, job, result);
  const handler = ctx.jobCompletions[job.type];
  let added: Record<string, unknown> = {};
  if (handler) {
    try {
      added = await handler({
        ctx,
        job: { ...job, result: { ...job.result, ...result } },
        artifacts,
        lastEvents: await lastJobEvents(ctx.db, job.id),
      });
    } catch (error) {
      return finishJob({
        ctx,
        jobId: job.id,
        workerId,
        state: 'failed',
        result,
        error: `the job's outputs could not be registered: ${(error as Error).message}`,
      });
    }
  }
  return finishJob({ ctx, jobId: job.id, workerId, state: 'succeeded', result: { ...result, ...added } });
}
