// The job queue in PostgreSQL (embedded PGlite or a server alike). A worker claims the oldest queued job, or
// a running one whose lease expired (its worker died), with FOR UPDATE SKIP LOCKED, so concurrent workers
// never claim the same row; it holds the job by renewing the lease with heartbeats, and only the holder may
// finish it. Wall time is counted from heartbeat to heartbeat, so a dead worker's time is counted up to its
// last sign of life. Every state change is stored as a `state` event and announced on the app's job hub.
// Functions a route calls on a user's behalf take the actor and look the job up by id and owner together;
// the workers' functions take the worker's id, and only the holder of a job may change it.
import { and, asc, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { jobEvents, jobs, type JobState, type JobType } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { eventView, withoutServerPaths } from './events.ts';
import { validateJobParams } from './job-types.ts';
import { jobView, type JobView } from './view.ts';

type JobRow = typeof jobs.$inferSelect;

/** Seconds since the last heartbeat, added to wall_seconds whenever the holder checks in or lets go. */
const sinceHeartbeat = sql`coalesce(extract(epoch from (now() - ${jobs.heartbeatAt}))::double precision, 0)`;

const leaseUntil = (leaseMs: number) => sql`now() + ${`${leaseMs} milliseconds`}::interval`;

/**
 * Applies `set` to the job when `where` holds, stores a state event with `data` and announces the change.
 * Null when the job is not in a state `where` accepts.
 */
async function transition(
  ctx: AppContext,
  id: string,
  where: SQL | undefined,
  set: Partial<Record<keyof JobRow, unknown>> & { state: JobState },
  data: Record<string, unknown> = {},
): Promise<JobView | null> {
  const changed = await ctx.db.transaction(async (tx) => {
    const [before] = await tx
      .select({ state: jobs.state })
      .from(jobs)
      .where(and(eq(jobs.id, id), where))
      .for('update');
    if (!before) return null;
    const [row] = await tx
      .update(jobs)
      .set({ ...set, updatedAt: new Date() } as Partial<JobRow>)
      .where(eq(jobs.id, id))
      .returning();
    const [event] = await tx
      .insert(jobEvents)
      .values({ jobId: id, type: 'state', data: { state: set.state, previous: before.state, ...data } })
      .returning();
    return { row: row!, previous: before.state, event: eventView(event!) };
  });
  if (!changed) return null;
  const job = jobView(changed.row);
  ctx.jobHub.publish({ kind: 'state', job, previous: changed.previous, event: changed.event });
  return job;
}

/**
 * Queues a job of the user's with parameters validated already (see job-types.ts), at the machine's hourly rate
 * now, which the job keeps. It is announced as a state change from `queued` to `queued`.
 */
export async function enqueueJob(options: {
  ctx: AppContext;
  userId: string;
  type: JobType;
  name: string;
  params: Record<string, unknown>;
}): Promise<JobView> {
  const { ctx, ...job } = options;
  const created = await ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(jobs)
      .values({ id: newId('job'), ...job, hourlyRate: ctx.config.hourlyRate })
      .returning();
    const [event] = await tx
      .insert(jobEvents)
      .values({ jobId: row!.id, type: 'state', data: { state: 'queued', previous: 'queued' } })
      .returning();
    return { view: jobView(row!), event: eventView(event!) };
  });
  ctx.jobHub.publish({ kind: 'state', job: created.view, previous: 'queued', event: created.event });
  return created.view;
}

/**
 * Queues a job for the actor from a request's `type`, `name` and `params`: the parameters are checked against
 * the type and the objects they name must be the actor's (a 400 naming the field otherwise); the name defaults
 * to the type.
 */
export async function createJob(options: {
  ctx: AppContext;
  actor: Actor;
  type: unknown;
  name: unknown;
  params: unknown;
}): Promise<JobView> {
  const { ctx, actor, name } = options;
  const { type, params } = await validateJobParams(options);
  if (name !== undefined && (typeof name !== 'string' || name.length > 200))
    throw new AppError('invalid_request', 'name must be a string of at most 200 characters', 'name');
  const trimmed = typeof name === 'string' ? name.trim() : '';
  return enqueueJob({ ctx, userId: actor.userId, type, name: trimmed === '' ? type : trimmed, params });
}

export interface Claim {
  job: JobView;
  leaseExpiresAt: Date;
  /** Whether an earlier attempt ran (a takeover or a retry): the command resumes from its checkpoint. */
  resumed: boolean;
}

/**
 * Claims the oldest job that is queued, or running with an expired lease, for `workerId`; null when there is
 * none. Running jobs that were asked to cancel and whose worker died are marked cancelled on the way.
 */
export async function claimJob(options: {
  ctx: AppContext;
  workerId: string;
  types?: readonly JobType[];
  leaseMs: number;
}): Promise<Claim | null> {
  const { ctx } = options;
  const expired = and(eq(jobs.state, 'running'), lt(jobs.leaseExpiresAt, sql`now()`));
  const abandoned = await ctx.db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(expired, eq(jobs.cancelRequested, true)));
  for (const { id } of abandoned)
    await transition(
      ctx,
      id,
      and(expired, eq(jobs.cancelRequested, true)),
      { state: 'cancelled', finishedAt: sql`now()`, leaseExpiresAt: null, heartbeatAt: null },
      { reason: 'cancelled while its worker was gone' },
    );

  const types =
    options.types && options.types.length > 0 ? inArray(jobs.type, [...options.types]) : undefined;
  const claimable = and(or(eq(jobs.state, 'queued'), and(expired, eq(jobs.cancelRequested, false))), types);
  const claimed = await ctx.db.transaction(async (tx) => {
    const [candidate] = await tx
      .select({ id: jobs.id, state: jobs.state, workerId: jobs.workerId })
      .from(jobs)
      .where(claimable)
      .orderBy(asc(jobs.createdAt))
      .limit(1)
      .for('update', { skipLocked: true });
    if (!candidate) return null;
    const [row] = await tx
      .update(jobs)
      .set({
        state: 'running',
        workerId: options.workerId,
        leaseExpiresAt: leaseUntil(options.leaseMs),
        heartbeatAt: sql`now()`,
        attempts: sql`${jobs.attempts} + 1`,
        startedAt: sql`coalesce(${jobs.startedAt}, now())`,
        updatedAt: new Date(),
      })
      .where(eq(jobs.id, candidate.id))
      .returning();
    const takeover = candidate.state === 'running' ? { takenOverFrom: candidate.workerId } : {};
    const [event] = await tx
      .insert(jobEvents)
      .values({
        jobId: candidate.id,
        type: 'state',
        data: {
          state: 'running',
          previous: candidate.state,
          workerId: options.workerId,
          attempt: row!.attempts,
          ...takeover,
        },
      })
      .returning();
    return { row: row!, previous: candidate.state, event: eventView(event!) };
  });
  if (!claimed) return null;
  const job = jobView(claimed.row);
  ctx.jobHub.publish({ kind: 'state', job, previous: claimed.previous, event: claimed.event });
  return { job, leaseExpiresAt: claimed.row.leaseExpiresAt!, resumed: claimed.row.attempts > 1 };
}

/** Whether the lease was renewed and whether the job's owner asked to cancel it. */
export interface Heartbeat {
  cancelRequested: boolean;
  leaseExpiresAt: Date;
}

const leaseLost = (id: string) =>
  new AppError(
    'conflict',
    `job ${id} is no longer held by this worker (its lease expired and it was taken over, or it ended)`,
  );

/** Renews the holder's lease and counts the time since its last heartbeat; a conflict for anyone else. */
export async function heartbeatJob(options: {
  ctx: AppContext;
  jobId: string;
  workerId: string;
  leaseMs: number;
}): Promise<Heartbeat> {
  const [row] = await options.ctx.db
    .update(jobs)
    .set({
      wallSeconds: sql`${jobs.wallSeconds} + ${sinceHeartbeat}`,
      heartbeatAt: sql`now()`,
      leaseExpiresAt: leaseUntil(options.leaseMs),
      updatedAt: new Date(),
    })
    .where(held(options.jobId, options.workerId))
    .returning({ cancelRequested: jobs.cancelRequested, leaseExpiresAt: jobs.leaseExpiresAt });
  if (!row) throw leaseLost(options.jobId);
  return { cancelRequested: row.cancelRequested, leaseExpiresAt: row.leaseExpiresAt! };
}

const held = (jobId: string, workerId: string) =>
  and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.state, 'running'));

/** Whether the worker still holds the job (it is running under this worker's id). */
export async function holdsJob(options: {
  ctx: AppContext;
  jobId: string;
  workerId: string;
}): Promise<JobView | null> {
  const [row] = await options.ctx.db.select().from(jobs).where(held(options.jobId, options.workerId));
  return row ? jobView(row) : null;
}

export interface Finish {
  ctx: AppContext;
  jobId: string;
  workerId: string;
  state: 'succeeded' | 'failed' | 'cancelled';
  /** Merged into the job's result. */
  result?: Record<string, unknown>;
  error?: string | null;
}

/** Ends the job as its holder (its result and error without the server's paths); a conflict when the worker no longer holds it. */
export async function finishJob(options: Finish): Promise<JobView> {
  const finish = {
    ...options,
    ...withoutServerPaths(options.ctx, options.jobId, { result: options.result, error: options.error }),
  };
  const job = await transition(
    finish.ctx,
    finish.jobId,
    held(finish.jobId, finish.workerId),
    {
      state: finish.state,
      wallSeconds: sql`${jobs.wallSeconds} + ${sinceHeartbeat}`,
      result:
        finish.result === undefined
          ? undefined
          : sql`coalesce(${jobs.result}, '{}'::jsonb) || ${JSON.stringify(finish.result)}::jsonb`,
      error: finish.error ?? null,
      finishedAt: sql`now()`,
      leaseExpiresAt: null,
      heartbeatAt: null,
    },
    finish.error ? { error: finish.error } : {},
  );
  if (!job) throw leaseLost(finish.jobId);
  return job;
}

/**
 * Puts the holder's job back in the queue at once (a server shutting down, a worker whose command was killed
 * from outside): the next claim resumes it from its checkpoint. Null when the worker no longer holds it.
 */
export async function releaseJob(options: {
  ctx: AppContext;
  jobId: string;
  workerId: string;
  reason: string;
}): Promise<JobView | null> {
  return transition(
    options.ctx,
    options.jobId,
    held(options.jobId, options.workerId),
    {
      state: 'queued',
      wallSeconds: sql`${jobs.wallSeconds} + ${sinceHeartbeat}`,
      workerId: null,
      leaseExpiresAt: null,
      heartbeatAt: null,
    },
    { reason: options.reason },
  );
}

/** The actor's job; another user's is "not found", like a missing one. */
export async function getJob(options: { ctx: AppContext; actor: Actor; jobId: string }): Promise<JobView> {
  const { ctx, actor, jobId } = options;
  const [row] = await ctx.db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, jobId), eq(jobs.userId, actor.userId)));
  if (!row) throw new AppError('not_found', `job ${jobId} not found; list jobs with GET /api/jobs`);
  return jobView(row);
}

export interface JobTotals {
  wallSeconds: number;
  cost: number;
  tokensProcessed: number;
}

/** The actor's jobs, newest first, with their summed wall time, cost and tokens. */
export async function listJobs(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<{ jobs: JobView[]; totals: JobTotals }> {
  const rows = await options.ctx.db
    .select()
    .from(jobs)
    .where(eq(jobs.userId, options.actor.userId))
    .orderBy(desc(jobs.createdAt));
  const views = rows.map(jobView);
  const totals = views.reduce(
    (sum, job) => ({
      wallSeconds: sum.wallSeconds + job.wallSeconds,
      cost: sum.cost + job.cost,
      tokensProcessed: sum.tokensProcessed + job.tokensProcessed,
    }),
    { wallSeconds: 0, cost: 0, tokensProcessed: 0 },
  );
  return { jobs: views, totals };
}

/**
 * Cancels the actor's job: a queued one at once; a running one is marked, and its worker stops the command
 * and marks it cancelled (within a heartbeat). A conflict for a job that has ended.
 */
export async function cancelJob(options: { ctx: AppContext; actor: Actor; jobId: string }): Promise<JobView> {
  const { ctx, jobId: id } = options;
  const job = await getJob(options);
  if (job.state === 'queued') {
    const cancelled = await transition(ctx, id, eq(jobs.state, 'queued'), {
      state: 'cancelled',
      finishedAt: sql`now()`,
    });
    if (cancelled) return cancelled;
  }
  const [row] = await ctx.db
    .update(jobs)
    .set({ cancelRequested: true, updatedAt: new Date() })
    .where(and(eq(jobs.id, id), eq(jobs.state, 'running')))
    .returning();
  if (row) return jobView(row);
  const now = await getJob(options);
  throw new AppError(
    'conflict',
    `job ${id} has already ${now.state}; only queued and running jobs can be cancelled`,
  );
}

/** Queues the actor's failed or cancelled job again; its run folder is kept, so it resumes from a checkpoint. */
export async function retryJob(options: { ctx: AppContext; actor: Actor; jobId: string }): Promise<JobView> {
  const { ctx, jobId: id } = options;
  await getJob(options);
  const job = await transition(ctx, id, inArray(jobs.state, ['failed', 'cancelled']), {
    state: 'queued',
    error: null,
    cancelRequested: false,
    finishedAt: null,
    workerId: null,
  });
  if (job) return job;
  const now = await getJob(options);
  throw new AppError('conflict', `job ${id} is ${now.state}; only failed and cancelled jobs can be retried`);
}
