// The signed-in user's training jobs (STUDIO-API.md "Jobs"): the job types and their parameters' schemas, create
// with validated parameters, list with cost totals, read, events, a live event stream with Last-Event-ID replay,
// cancel and retry, and the preflight estimate before a job is queued.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { JobState } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { openEventStream } from '../event-stream.ts';
import { jobTypesView, validateJobParams } from '../jobs/job-types.ts';
import { finetuneEstimate } from '../jobs/preflight.ts';
import { listJobEvents, type JobChange, type JobEventView } from '../jobs/events.ts';
import { cancelJob, createJob, getJob, listJobs, retryJob } from '../jobs/queue.ts';
import { closeThreads } from '../threads.ts';

const FINAL: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** The event id to replay after: `Last-Event-ID` (a reconnecting EventSource) or `?after=`; 0 for all. */
function replayFrom(header: unknown, query: unknown, field: string): number {
  const raw = typeof header === 'string' && header !== '' ? header : query;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n))
    throw new AppError('invalid_request', `${field} must be an event id (a whole number)`, field);
  return n;
}

export function jobRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const openStreams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const close of openStreams) close();
    });
    // Preflights are computed in the app's worker threads.
    app.addHook('onClose', () => closeThreads(ctx));
    app.get('/job-types', access('user'), async () => ({ types: jobTypesView() }));

    app.post('/jobs/preflight', access('user'), async (request) => {
      const body = (request.body ?? {}) as { type?: unknown; params?: unknown };
      const actor = actorOf(request);
      const { type, params } = await validateJobParams({ ctx, actor, type: body.type, params: body.params });
      if (type !== 'finetune')
        throw new AppError('not_supported', `preflight estimates exist for finetune jobs only, not ${type}`);
      return { estimate: await finetuneEstimate(ctx, params, actor.userId) };
    });

    app.post('/jobs', access('user'), async (request, reply) => {
      const body = (request.body ?? {}) as { type?: unknown; name?: unknown; params?: unknown };
      const job = await createJob({
        ctx,
        actor: actorOf(request),
        type: body.type,
        name: body.name,
        params: body.params,
      });
      return reply.status(201).send({ job });
    });

    app.get('/jobs', access('user'), async (request) => {
      const { jobs, totals } = await listJobs({ ctx, actor: actorOf(request) });
      return { jobs, totals: { ...totals, currency: ctx.config.currency } };
    });

    app.get<{ Params: { id: string } }>('/jobs/:id', access('user'), async (request) => ({
      job: await getJob({ ctx, actor: actorOf(request), jobId: request.params.id }),
    }));

    app.get<{ Params: { id: string }; Querystring: { after?: string } }>(
      '/jobs/:id/events',
      access('user'),
      async (request) => {
        const job = await getJob({ ctx, actor: actorOf(request), jobId: request.params.id });
        return {
          events: await listJobEvents(ctx.db, job.id, replayFrom(undefined, request.query.after, 'after')),
        };
      },
    );

    app.get<{ Params: { id: string }; Querystring: { after?: string } }>(
      '/jobs/:id/stream',
      access('user'),
      async (request, reply) => {
        const actor = actorOf(request);
        const job = await getJob({ ctx, actor, jobId: request.params.id });
        let after = replayFrom(request.headers['last-event-id'], request.query.after, 'Last-Event-ID');
        // Changes that arrive while the stored events are replayed wait here, so none is lost or doubled.
        const pending: JobChange[] = [];
        let wake: (() => void) | null = null;
        let closed = false;
        const close = () => {
          closed = true;
          wake?.();
        };
        const unsubscribe = ctx.jobHub.subscribe((change) => {
          if (change.job.id !== job.id) return;
          pending.push(change);
          wake?.();
        });
        const stream = openEventStream(reply);
        request.raw.on('close', close);
        // A server shutting down ends its streams; clients reconnect with Last-Event-ID.
        openStreams.add(close);
        const send = async (event: JobEventView, current: typeof job) => {
          after = event.id;
          return stream.send(
            event.type,
            event.type === 'state' ? { ...event, job: current } : event,
            event.id,
          );
        };
        try {
          for (const event of await listJobEvents(ctx.db, job.id, after)) {
            if (!(await send(event, job))) return;
          }
          let state = (await getJob({ ctx, actor, jobId: job.id })).state;
          while (!closed && stream.open && !(FINAL.includes(state) && pending.length === 0)) {
            const change = pending.shift();
            if (!change) {
              await new Promise<void>((resolve) => (wake = resolve));
              wake = null;
              continue;
            }
            if (change.event.id <= after) continue;
            if (!(await send(change.event, change.job))) return;
            state = change.job.state;
          }
        } finally {
          unsubscribe();
          openStreams.delete(close);
          stream.end();
        }
      },
    );

    app.post<{ Params: { id: string } }>('/jobs/:id/cancel', access('user'), async (request) => ({
      job: await cancelJob({ ctx, actor: actorOf(request), jobId: request.params.id }),
    }));

    app.post<{ Params: { id: string } }>('/jobs/:id/retry', access('user'), async (request) => ({
      job: await retryJob({ ctx, actor: actorOf(request), jobId: request.params.id }),
    }));
  };
}
