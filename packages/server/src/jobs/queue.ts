// The job queue in PostgreSQL (embedded PGlite or a server alike). A worker claims the oldest queued job, or
// a running one whose lease expired (its worker died), with FOR UPDATE SKIP LOCKED, so concurrent workers
// never claim the same row; it holds the job by renewing the lease with heartbeats, and only the holder may
// finish it. Wall time is counted from heartbeat to heartbeat, so a dead worker's time is counted up to its
// last sign of life. Every state change is stored as a `state` event and announced on jobHub.
import { and, asc, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { Database } from '../db/database.ts';
import { jobEvents, jobs, type JobState, type JobType } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { eventView, jobHub } from './events.ts';
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
  db: Database,
  id: string,
  where: SQL | undefined,
  set: Partial<Record<keyof JobRow, unknown>> & { state: JobState },
  data: Record<string, unknown> = {},
): Promise<JobView | null> {
  const changed = await db.transaction(async (tx) => {
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
  jobHub.publish({ kind: 'state', job, previous: changed.previous, event: changed.event });
  return job;
}

export interface NewJob {
  userId: string;
  type: JobType;
  name: string;
  /** Validated parameters (see commands.ts). */
  params: Record<string, unknown>;
  /** The machine's hourly rate now; the job keeps it. */
  hourlyRate: number;
}

/** Queues a job. It is announced as a state change from `queued` to `queued`. */
export async function enqueueJob(db: Database, job: NewJob): Promise<JobView> {
  const created = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(jobs)
      .values({ id: newId('job'), ...job })
      .returning();
    const [event] = await tx
      .insert(jobEvents)
      .values({ jobId: row!.id, type: 'state', data: { state: 'queued', previous: 'queued' } })
      .returning();
    return { view: jobView(row!), event: eventView(event!) };
  });
  jobHub.publish({ kind: 'state', job: created.view, previous: 'queued', event: created.event });
  return created.view;
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
export async function claimJob(
  db: Database,
  options: { workerId: string; types?: readonly JobType[]; leaseMs: number },
): Promise<Claim | null> {
  const expired = and(eq(jobs.state, 'running'), lt(jobs.leaseExpiresAt, sql`now()`));
  const abandoned = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(expired, eq(jobs.cancelRequested, true)));
  for (const { id } of abandoned)
    await transition(
      db,
      id,
      and(expired, eq(jobs.cancelRequested, true)),
      { state: 'cancelled', finishedAt: sql`now()`, leaseExpiresAt: null, heartbeatAt: null },
      { reason: 'cancelled while its worker was gone' },
    );

  const types =
    options.types && options.types.length > 0 ? inArray(jobs.type, [...options.types]) : undefined;
  const claimable = and(or(eq(jobs.state, 'queued'), and(expired, eq(jobs.cancelRequested, false))), types);
  const claimed = await db.transaction(async (tx) => {
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
  jobHub.publish({ kind: 'state', job, previous: claimed.previous, event: claimed.event });
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
export async function heartbeatJob(
  db: Database,
  options: { jobId: string; workerId: string; leaseMs: number },
): Promise<Heartbeat> {
  const [row] = await db
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
export async function holdsJob(db: Database, jobId: string, workerId: string): Promise<JobView | null> {
  const [row] = await db.select().from(jobs).where(held(jobId, workerId));
  return row ? jobView(row) : null;
}

export interface Finish {
  jobId: string;
  workerId: string;
  state: 'succeeded' | 'failed' | 'cancelled';
  /** Merged into the job's result. */
  result?: Record<string, unknown>;
  error?: string | null;
}

/** Ends the job as its holder; a conflict when the worker no longer holds it. */
export async function finishJob(db: Database, finish: Finish): Promise<JobView> {
  const job = await transition(
    db,
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
export async function releaseJob(
  db: Database,
  options: { jobId: string; workerId: string; reason: string },
): Promise<JobView | null> {
  return transition(
    db,
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
export async function getJob(db: Database, actor: Actor, id: string): Promise<JobView> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, id), eq(jobs.userId, actor.userId)));
  if (!row) throw new AppError('not_found', `job ${id} not found; list jobs with GET /api/jobs`);
  return jobView(row);
}

export interface JobTotals {
  wallSeconds: number;
  cost: number;
  tokensProcessed: number;
}

/** The user's jobs, newest first, with their summed wall time, cost and tokens. */
export async function listJobs(
  db: Database,
  userId: string,
): Promise<{ jobs: JobView[]; totals: JobTotals }> {
  const rows = await db.select().from(jobs).where(eq(jobs.userId, userId)).orderBy(desc(jobs.createdAt));
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
export async function cancelJob(db: Database, actor: Actor, id: string): Promise<JobView> {
  const job = await getJob(db, actor, id);
  if (job.state === 'queued') {
    const cancelled = await transition(db, id, eq(jobs.state, 'queued'), {
      state: 'cancelled',
      finishedAt: sql`now()`,
    });
    if (cancelled) return cancelled;
  }
  const [row] = await db
    .update(jobs)
    .set({ cancelRequested: true, updatedAt: new Date() })
    .where(and(eq(jobs.id, id), eq(jobs.state, 'running')))
    .returning();
  if (row) return jobView(row);
  const now = await getJob(db, actor, id);
  throw new AppError(
    'conflict',
    `job ${id} has already ${now.state}; only queued and running jobs can be cancelled`,
  );
}

/** Queues the actor's failed or cancelled job again; its run folder is kept, so it resumes from a checkpoint. */
export async function retryJob(db: Database, actor: Actor, id: string): Promise<JobView> {
  await getJob(db, actor, id);
  const job = await transition(db, id, inArray(jobs.state, ['failed', 'cancelled']), {
    state: 'queued',
    error: null,
    cancelRequested: false,
    finishedAt: null,
    workerId: null,
  });
  if (job) return job;
  const now = await getJob(db, actor, id);
  throw new AppError('conflict', `job ${id} is ${now.state}; only failed and cancelled jobs can be retried`);
}
