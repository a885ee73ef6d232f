// A job's events: what its command reports (JSON lines on stdout, text on stderr) mapped to the stored event
// types of STUDIO-API.md, stored in job_events, and announced in-process on the app's job hub (`ctx.jobHub`)
// for live SSE streams, local workers, webhooks and notifications.
import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { jobEvents, jobs, type JobState } from '../db/schema.ts';
import { jobDirectory, relativeTo } from './job-folder.ts';
import { jobView, type JobView } from './view.ts';

export type JobEventType = (typeof jobEvents.$inferSelect)['type'];

/** An event before it is stored (what workers send). */
export interface JobEventInput {
  type: JobEventType;
  data: Record<string, unknown>;
}

export interface JobEventView {
  id: number;
  type: JobEventType;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** What the hub announces: a stored event of a job, or a change of its state (with the stored state event). */
export type JobChange =
  | { kind: 'event'; job: JobView; event: JobEventView }
  | { kind: 'state'; job: JobView; previous: JobState; event: JobEventView };

/**
 * One app's announcements of every change to its jobs, in the order they were stored. Listeners run
 * synchronously after the change is committed; one that throws is skipped, never stopping the job or the other
 * listeners.
 */
export class JobHub {
  private readonly listeners = new Set<(change: JobChange) => void>();

  /** Calls `listener` for every change until the returned function is called. */
  subscribe(listener: (change: JobChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(change: JobChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A closed stream or a failing hook must not affect the job.
      }
    }
  }
}

export const eventView = (row: typeof jobEvents.$inferSelect): JobEventView => ({
  id: row.id,
  type: row.type,
  data: row.data,
  createdAt: row.createdAt,
});

/** The job's stored events after `afterId` (all when 0), oldest first. */
export async function listJobEvents(db: Database, jobId: string, afterId = 0): Promise<JobEventView[]> {
  const rows = await db
    .select()
    .from(jobEvents)
    .where(and(eq(jobEvents.jobId, jobId), gt(jobEvents.id, afterId)))
    .orderBy(asc(jobEvents.id));
  return rows.map(eventView);
}

/** The job's last `limit` events, oldest first (what completion handlers are given). */
export async function lastJobEvents(db: Database, jobId: string, limit = 200): Promise<JobEventView[]> {
  const rows = await db
    .select()
    .from(jobEvents)
    .where(eq(jobEvents.jobId, jobId))
    .orderBy(desc(jobEvents.id))
    .limit(limit);
  return rows.reverse().map(eventView);
}

const EVENT_TYPES: readonly JobEventType[] = [
  'progress',
  'metrics',
  'log',
  'checkpoint',
  'artifact',
  'state',
];

/** Whether `value` is an event a worker may send (`state` events are the server's own). */
export function isWorkerEvent(value: unknown): value is JobEventInput {
  if (typeof value !== 'object' || value === null) return false;
  const { type, data } = value as Record<string, unknown>;
  return (
    typeof type === 'string' &&
    type !== 'state' &&
    EVENT_TYPES.includes(type as JobEventType) &&
    typeof data === 'object' &&
    data !== null &&
    !Array.isArray(data)
  );
}

/**
 * `value` as a job shows it: paths under the job's folder relative to it, any other under the data folder
 * relative to that, so no view of a job (events, result, error; webhooks and notifications built from them) names
 * the server's folders.
 */
export function withoutServerPaths<T>(ctx: AppContext, jobId: string, value: T): T {
  return relativeTo(value, [jobDirectory(ctx.config.home, jobId), ctx.config.home]);
}

/**
 * Stores a worker's events for a job (without the server's paths) and announces them. Progress events also
 * become the job's `progress` (merged, so a stage and the step counts live side by side), and each train step
 * adds `tokensPerStep` to the tokens processed.
 */
export async function appendJobEvents(options: {
  ctx: AppContext;
  jobId: string;
  events: JobEventInput[];
  tokensPerStep: number;
}): Promise<JobEventView[]> {
  const { ctx, jobId, tokensPerStep } = options;
  const events = withoutServerPaths(ctx, jobId, options.events);
  if (events.length === 0) return [];
  const { stored, job } = await ctx.db.transaction(async (tx) => {
    const rows = await tx
      .insert(jobEvents)
      .values(events.map((event) => ({ jobId, type: event.type, data: event.data })))
      .returning();
    const progress = events.filter((event) => event.type === 'progress').map((event) => event.data);
    const steps = events.filter((event) => event.type === 'metrics' && 'loss' in event.data).length;
    const merged = Object.assign({}, ...progress) as Record<string, unknown>;
    const [updated] = await tx
      .update(jobs)
      .set({
        ...(progress.length > 0
          ? { progress: sql`coalesce(${jobs.progress}, '{}'::jsonb) || ${JSON.stringify(merged)}::jsonb` }
          : {}),
        tokensProcessed: sql`${jobs.tokensProcessed} + ${steps * tokensPerStep}`,
        updatedAt: new Date(),
      })
      .where(eq(jobs.id, jobId))
      .returning();
    return { stored: rows.map(eventView), job: updated! };
  });
  const view = jobView(job);
  for (const event of stored) ctx.jobHub.publish({ kind: 'event', job: view, event });
  return stored;
}

/** A JSON line of a command's `--events` output as stored events, and the run's result when it ends. */
export interface MappedLine {
  events: JobEventInput[];
  /** Set by the command's final line (`run-end`, `finetune-done`, …): merged into the job's result. */
  result?: Record<string, unknown>;
}

/**
 * Maps the JSON lines of one run of an `ownlm … --events -` command. One mapper per run: it remembers where
 * the run started to give each train step an ETA. The paths it reports are made relative to the job folder the
 * command runs in (`run/…`): how a job names its files on every worker and on the server.
 */
export class CommandEventMapper {
  private startStep = 0;
  private startElapsed: number | null = null;

  constructor(private readonly jobDir: string) {}

  map(line: string): MappedLine {
    return relativeTo(this.mapLine(line), [this.jobDir]);
  }

  private mapLine(line: string): MappedLine {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { events: [{ type: 'log', data: { stream: 'stdout', line } }] };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { events: [{ type: 'log', data: { stream: 'stdout', line } }] };
    const { type, ...data } = value as Record<string, unknown>;
    const number = (key: string) => (typeof data[key] === 'number' ? (data[key] as number) : undefined);
    switch (type) {
      case 'run-start':
        this.startStep = number('step') ?? 0;
        this.startElapsed = null;
        return { events: [{ type: 'progress', data: { step: data.step, steps: data.steps } }] };
      case 'train-step': {
        const step = number('step') ?? 0;
        const steps = number('steps') ?? 0;
        const elapsed = number('elapsedSeconds') ?? 0;
        // The first step's elapsed time includes what earlier attempts took; the rate counts from there.
        this.startElapsed ??= elapsed;
        const done = step - this.startStep - 1;
        const etaSeconds =
          done > 0 ? Math.round(((elapsed - this.startElapsed) / done) * (steps - step)) : null;
        return {
          events: [
            {
              type: 'progress',
              data: {
                step,
                steps,
                loss: data.loss,
                tokensPerSecond: data.tokensPerSecond,
                etaSeconds,
              },
            },
            { type: 'metrics', data: { step, loss: data.loss, lr: data.lr } },
          ],
        };
      }
      case 'eval-result':
        return {
          events: [
            { type: 'metrics', data: { step: data.step, validationLoss: data.validationLoss } },
            { type: 'progress', data: { validationLoss: data.validationLoss } },
          ],
        };
      case 'checkpoint-saved':
        return { events: [{ type: 'checkpoint', data: { step: data.step, dir: data.dir } }] };
      case 'checkpoint-rejected':
        return {
          events: [
            {
              type: 'log',
              data: { stream: 'event', line: `checkpoint ${data.dir} rejected: ${data.reason}` },
            },
          ],
        };
      case 'artifact-written':
        return { events: [{ type: 'artifact', data }] };
      case 'sample-text':
        return {
          events: [
            {
              type: 'log',
              data: { stream: 'sample', line: `step ${data.step}: ${data.prompt}${data.text}` },
            },
          ],
        };
      case 'run-end':
        return {
          events: [{ type: 'progress', data: { step: data.step, etaSeconds: 0 } }],
          result: {
            step: data.step,
            loss: data.loss,
            validationLoss: data.validationLoss,
            checkpoint: data.checkpoint,
          },
        };
      default:
        // `finetune-stage`, `data-prepare-stage`, …: the stage under way.
        if (typeof type === 'string' && type.endsWith('-stage'))
          return { events: [{ type: 'progress', data: { stage: data.stage } }] };
        // `finetune-done`, `quickstart-done` and the like name what the command made; a JSON object with no
        // type is a command's `--json` answer (`ownlm eval --json`).
        if (type === undefined || (typeof type === 'string' && type.endsWith('-done')))
          return { events: [], result: data };
        return { events: [] };
    }
  }
}
