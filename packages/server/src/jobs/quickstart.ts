// The first-run quickstart as a job: `ownlm quickstart --events -` in the job folder (jobs/job-types.ts), whose
// GGUF is registered when it succeeds, seen by the first-run page as one QuickstartStatus. The quickstart is the
// server's, not a user's: whoever opens the page follows the latest run, and one runs at a time.
import { desc, eq } from 'drizzle-orm';
import { requireAdmin, type Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { jobs, type JobState } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { createJob } from './queue.ts';
import { jobView, type JobView } from './view.ts';

/** What the first-run page shows; the same shape as `QuickstartStatus` in packages/web/src/types.ts. */
export interface QuickstartStatus {
  state: 'idle' | 'running' | 'succeeded' | 'failed';
  /** The quickstart stage under way or last reached ("train the tiny Llama preset"). */
  stage: string | null;
  step: number | null;
  steps: number | null;
  loss: number | null;
  /** Seconds left in training, from the rate of the steps so far; null outside training. */
  etaSeconds: number | null;
  /** Why the run failed: the last lines the command wrote to stderr. */
  error: string | null;
  /** The registry version id of the model the run made. */
  modelId: string | null;
}

const STATES: Record<JobState, QuickstartStatus['state']> = {
  queued: 'running',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'failed',
};

/** The status of a quickstart job (`idle` when there is none). */
export function quickstartStatus(job: JobView | null): QuickstartStatus {
  const progress = job?.progress ?? {};
  const number = (key: string) => (typeof progress[key] === 'number' ? (progress[key] as number) : null);
  const running = job !== null && STATES[job.state] === 'running';
  return {
    state: job ? STATES[job.state] : 'idle',
    stage: typeof progress.stage === 'string' ? progress.stage : null,
    step: number('step'),
    steps: number('steps'),
    loss: number('loss'),
    // Training ends with an ETA of 0, which the stages after it keep: nothing is counted down there.
    etaSeconds: running && number('etaSeconds') !== 0 ? number('etaSeconds') : null,
    error: job?.state === 'cancelled' ? 'the quickstart was cancelled' : (job?.error ?? null),
    modelId: typeof job?.result?.modelId === 'string' ? job.result.modelId : null,
  };
}

/** The newest quickstart job, whoever started it; null before the first. */
export async function latestQuickstart(ctx: AppContext): Promise<JobView | null> {
  const [row] = await ctx.db
    .select()
    .from(jobs)
    .where(eq(jobs.type, 'quickstart'))
    .orderBy(desc(jobs.createdAt))
    .limit(1);
  return row ? jobView(row) : null;
}

/**
 * Queues a quickstart for the actor (`params`: steps, vocabSize, seed, each optional); a conflict while one is
 * queued or running. A failed or cancelled one is started again as a new job.
 */
export async function startQuickstart(options: {
  ctx: AppContext;
  actor: Actor;
  params: unknown;
}): Promise<JobView> {
  // It trains on the shared machine for minutes and its model becomes everyone's default.
  requireAdmin(options.actor, 'run the quickstart training');
  const latest = await latestQuickstart(options.ctx);
  if (latest && STATES[latest.state] === 'running')
    throw new AppError('conflict', 'the quickstart is already running; follow it on /api/quickstart/events');
  return createJob({ ...options, type: 'quickstart', name: 'quickstart' });
}

/** The quickstart job's completion handler: registers the GGUF it made (its `.lineage.json` beside it). */
export async function registerQuickstartModel(options: {
  ctx: AppContext;
  artifacts: Record<string, string>;
}): Promise<Record<string, unknown>> {
  const { model } = options.artifacts;
  if (model === undefined) throw new Error('ownlm quickstart ended without naming its model');
  return { modelId: (await options.ctx.registry.importFile(model)).versionId };
}
