// The worker API (STUDIO-API.md "Worker API") for remote `ownlm worker` processes, authenticated by a worker
// token that opens these routes only; and the admin's management of those tokens under /api/worker-tokens.
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import { createWorkerToken, listWorkerTokens, revokeWorkerToken } from '../auth/worker-tokens.ts';
import type { AppContext } from '../context.ts';
import type { JobType } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { completeJob } from '../jobs/completion.ts';
import { appendJobEvents, isWorkerEvent } from '../jobs/events.ts';
import { jobDirectory, safeRelative } from '../jobs/job-folder.ts';
import {
  JOB_TYPES,
  jobArguments,
  jobInputs,
  jobOutput,
  prepareJobFolder,
  tokensPerStep,
} from '../jobs/job-types.ts';
import { claimJob, finishJob, heartbeatJob, holdsJob } from '../jobs/queue.ts';

/** One file a claimed job reads, as the worker downloads it: `<input>/<path inside it>`. */
export interface WorkerInput {
  name: string;
  bytes: number;
}

/** Events one request may carry. */
const MAX_EVENTS = 1000;

function workerId(body: unknown): string {
  const value = (body as { workerId?: unknown } | null)?.workerId;
  if (typeof value !== 'string' || value === '' || value.length > 200)
    throw new AppError('invalid_request', 'workerId must be a string of 1 to 200 characters', 'workerId');
  return value;
}

/** Every file under `path` (itself when a file), relative to `path`'s parent, with `/` separators. */
function listFiles(root: string, name: string): WorkerInput[] {
  const stat = statSync(root);
  if (!stat.isDirectory()) return [{ name: `${name}/${root.split(sep).at(-1)}`, bytes: stat.size }];
  const files: WorkerInput[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile())
        files.push({
          name: `${name}/${relative(root, path).split(sep).join('/')}`,
          bytes: statSync(path).size,
        });
    }
  };
  walk(root);
  return files;
}

export function workerRoutes(ctx: AppContext): FastifyPluginAsync {
  const leaseMs = ctx.config.jobLeaseMs;

  /** The job, when the worker holds it; a conflict otherwise (its lease was lost). */
  async function held(jobId: string, worker: string) {
    const job = await holdsJob({ ctx, jobId, workerId: worker });
    if (!job)
      throw new AppError('conflict', `job ${jobId} is not held by worker ${worker}; claim another job`);
    return job;
  }

  return async (app) => {
    app.post('/worker-tokens', access('admin'), async (request, reply) => {
      const name = (request.body as { name?: unknown } | null)?.name;
      return reply.status(201).send(await createWorkerToken({ ctx, actor: actorOf(request), name }));
    });
    app.get('/worker-tokens', access('admin'), async (request) => ({
      tokens: await listWorkerTokens({ ctx, actor: actorOf(request) }),
    }));
    app.delete<{ Params: { id: string } }>('/worker-tokens/:id', access('admin'), async (request, reply) => {
      await revokeWorkerToken({ ctx, actor: actorOf(request), tokenId: request.params.id });
      return reply.status(204).send();
    });

    await app.register(
      async (worker) => {
        // Artifacts arrive as raw bytes of any size, streamed to disk rather than buffered.
        worker.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
          done(null, payload),
        );

        worker.post('/claim', access('worker'), async (request, reply) => {
          const id = workerId(request.body);
          const types = (request.body as { types?: unknown }).types;
          if (
            types !== undefined &&
            (!Array.isArray(types) || types.some((t) => !JOB_TYPES.includes(t as JobType)))
          )
            throw new AppError('invalid_request', `types must be a list of ${JOB_TYPES.join(', ')}`, 'types');
          const claim = await claimJob({
            ctx,
            workerId: id,
            types: types as JobType[] | undefined,
            leaseMs,
          });
          if (!claim) return reply.status(204).send();
          const jobDir = jobDirectory(ctx.config.home, claim.job.id);
          let roots: Record<string, string>;
          try {
            roots = await prepareJobFolder(ctx, claim.job);
          } catch (error) {
            await finishJob({
              ctx,
              jobId: claim.job.id,
              workerId: id,
              state: 'failed',
              error: (error as Error).message,
            });
            return reply.status(204).send();
          }
          const inputs = Object.entries(roots).flatMap(([name, path]) => listFiles(path, name));
          // Checkpoints earlier attempts uploaded: the worker puts them in its run folder and resumes from them.
          const checkpointDir = join(jobDir, 'run', 'checkpoints');
          const checkpoints = existsSync(checkpointDir) ? listFiles(checkpointDir, 'run/checkpoints') : [];
          return {
            job: claim.job,
            lease: { expiresAt: claim.leaseExpiresAt },
            inputs,
            checkpoints: checkpoints.filter((file) => !file.name.endsWith('.partial')),
            command: jobArguments(claim.job, roots),
            output: jobOutput(claim.job),
          };
        });

        worker.post<{ Params: { id: string } }>('/jobs/:id/heartbeat', access('worker'), async (request) => {
          const heartbeat = await heartbeatJob({
            ctx,
            jobId: request.params.id,
            workerId: workerId(request.body),
            leaseMs,
          });
          return {
            cancelRequested: heartbeat.cancelRequested,
            lease: { expiresAt: heartbeat.leaseExpiresAt },
          };
        });

        worker.post<{ Params: { id: string } }>('/jobs/:id/events', access('worker'), async (request) => {
          const job = await held(request.params.id, workerId(request.body));
          const events = (request.body as { events?: unknown }).events;
          if (!Array.isArray(events) || events.length > MAX_EVENTS)
            throw new AppError(
              'invalid_request',
              `events must be a list of at most ${MAX_EVENTS} events`,
              'events',
            );
          events.forEach((event, i) => {
            if (!isWorkerEvent(event))
              throw new AppError(
                'invalid_request',
                `events[${i}] must be {type: progress|metrics|log|checkpoint|artifact, data: object}`,
                `events[${i}]`,
              );
          });
          const stored = await appendJobEvents({
            ctx,
            jobId: job.id,
            events,
            tokensPerStep: tokensPerStep(job),
          });
          return { stored: stored.length };
        });

        worker.put<{ Params: { id: string; '*': string }; Querystring: { workerId?: string } }>(
          '/jobs/:id/artifacts/*',
          access('worker'),
          async (request) => {
            const job = await held(request.params.id, workerId(request.query));
            if (request.headers['content-type'] !== 'application/octet-stream')
              throw new AppError('invalid_request', 'send the artifact as application/octet-stream');
            const name = safeRelative(request.params['*'], 'name');
            const path = join(jobDirectory(ctx.config.home, job.id), name);
            mkdirSync(dirname(path), { recursive: true });
            // Written aside and renamed, so a broken upload never leaves half a file under the artifact's name.
            const partial = `${path}.partial`;
            await pipeline(request.body as Readable, createWriteStream(partial));
            renameSync(partial, path);
            return { path: name.split(sep).join('/') };
          },
        );

        worker.get<{ Params: { id: string; '*': string }; Querystring: { workerId?: string } }>(
          '/jobs/:id/inputs/*',
          access('worker'),
          async (request, reply) => {
            const job = await held(request.params.id, workerId(request.query));
            const relativePath = safeRelative(request.params['*'], 'name');
            const checkpointFile = relativePath.startsWith(join('run', 'checkpoints') + sep);
            const [name, ...rest] = relativePath.split(sep);
            const roots = await jobInputs(ctx, job);
            const root = checkpointFile ? jobDirectory(ctx.config.home, job.id) : roots[name!];
            if (root === undefined) throw new AppError('not_found', `job ${job.id} has no input '${name}'`);
            const path = checkpointFile
              ? join(root, relativePath)
              : statSync(root).isDirectory()
                ? resolve(root, ...rest)
                : root;
            if (!statSync(root).isDirectory() && rest.join(sep) !== root.split(sep).at(-1))
              throw new AppError('not_found', `input '${request.params['*']}' not found`);
            if (!existsSync(path) || !statSync(path).isFile())
              throw new AppError('not_found', `input '${request.params['*']}' not found`);
            return reply
              .header('content-type', 'application/octet-stream')
              .header('content-length', statSync(path).size)
              .send(createReadStream(path));
          },
        );

        worker.post<{ Params: { id: string } }>('/jobs/:id/finish', access('worker'), async (request) => {
          const id = workerId(request.body);
          const body = request.body as { state?: unknown; result?: unknown; error?: unknown };
          if (body.state !== 'succeeded' && body.state !== 'failed' && body.state !== 'cancelled')
            throw new AppError('invalid_request', 'state must be succeeded, failed or cancelled', 'state');
          if (
            body.result !== undefined &&
            (typeof body.result !== 'object' || body.result === null || Array.isArray(body.result))
          )
            throw new AppError('invalid_request', 'result must be an object', 'result');
          if (body.error !== undefined && body.error !== null && typeof body.error !== 'string')
            throw new AppError('invalid_request', 'error must be a string', 'error');
          const result = (body.result ?? {}) as Record<string, unknown>;
          const job = await held(request.params.id, id);
          if (body.state === 'succeeded')
            return { job: await completeJob({ ctx, job, workerId: id, result }) };
          return {
            job: await finishJob({
              ctx,
              jobId: job.id,
              workerId: id,
              state: body.state,
              result,
              error: (body.error as string | undefined) ?? null,
            }),
          };
        });
      },
      { prefix: '/worker' },
    );
  };
}
