// The server's own workers: N loops that claim jobs from the queue and run each as a child process in its job
// folder (job-folder.ts), renewing the lease with heartbeats. The run folder `<home>/jobs/<id>/run` outlives
// attempts, so a retried or taken-over job resumes from its last checkpoint. On shutdown the children are
// stopped and their jobs released, so the next start picks them up at once.
import { hostname } from 'node:os';
import { randomToken } from '../auth/tokens.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { runJobCommand, type CommandRun } from './child.ts';
import { completeJob } from './completion.ts';
import { appendJobEvents, type JobEventInput } from './events.ts';
import { jobDirectory, linkJobInputs } from './job-folder.ts';
import { jobArguments, jobOutput, prepareJobFolder, tokensPerStep } from './job-types.ts';
import { claimJob, finishJob, heartbeatJob, releaseJob, type Claim } from './queue.ts';

/** Attempts a job gets when its command is killed from outside (out of memory, an operator) before it fails. */
const MAX_ATTEMPTS = 3;

export interface LocalWorkersOptions {
  ctx: AppContext;
  count: number;
  leaseMs: number;
  /** How often an idle worker looks for work it was not told about (jobs queued by another server). */
  pollMs?: number;
  log: { info(message: string): void; warn(message: string): void; error(message: string): void };
}

/**
 * Events in the order the command wrote them, written in batches: while one batch is being written, the
 * next accumulates (a fast command writes hundreds of lines a second).
 */
export function eventStore(
  write: (events: JobEventInput[]) => Promise<void>,
  onError: (error: Error) => void,
): { add: (events: JobEventInput[]) => void; drain: () => Promise<void> } {
  let buffer: JobEventInput[] = [];
  let writing: Promise<void> | null = null;
  const flush = async () => {
    while (buffer.length > 0) {
      const batch = buffer;
      buffer = [];
      await write(batch).catch(onError);
    }
    writing = null;
  };
  return {
    add(events) {
      buffer.push(...events);
      writing ??= flush();
    },
    async drain() {
      while (writing) await writing;
    },
  };
}

export class LocalWorkers {
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private readonly runs = new Set<CommandRun>();
  /** The idle loops' wake-up calls. */
  private readonly sleepers = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;
  private readonly prefix = `local:${hostname()}:${process.pid}:${randomToken(4)}`;

  constructor(private readonly options: LocalWorkersOptions) {}

  start(): void {
    // A job queued (created, retried, released) by this app wakes idle workers at once.
    this.unsubscribe = this.options.ctx.jobHub.subscribe((change) => {
      if (change.kind === 'state' && change.job.state === 'queued') this.wake();
    });
    for (let n = 0; n < this.options.count; n++) this.loops.push(this.loop(`${this.prefix}:${n}`));
  }

  /** Stops every command under way, releases its job to the queue, and waits for the loops to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.wake();
    for (const run of this.runs) run.stop();
    await Promise.all(this.loops);
  }

  private wake(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  private async idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.options.pollMs ?? 2000);
      this.sleepers.add(done);
    });
  }

  private async loop(workerId: string): Promise<void> {
    const { ctx, leaseMs, log } = this.options;
    while (!this.stopping) {
      let claim: Claim | null = null;
      try {
        claim = await claimJob({ ctx, workerId, leaseMs });
      } catch (error) {
        log.error(`job worker ${workerId}: claiming failed: ${(error as Error).message}`);
      }
      if (!claim) {
        if (!this.stopping) await this.idle();
        continue;
      }
      try {
        await this.run(workerId, claim);
      } catch (error) {
        log.error(`job ${claim.job.id}: ${(error as Error).stack ?? error}`);
        await finishJob({
          ctx,
          jobId: claim.job.id,
          workerId,
          state: 'failed',
          error: `the worker failed: ${(error as Error).message}`,
        }).catch(() => undefined);
      }
    }
  }

  private async run(workerId: string, { job }: Claim): Promise<void> {
    const { ctx, leaseMs, log } = this.options;
    const jobDir = jobDirectory(ctx.config.home, job.id);
    let inputs: Record<string, string>;
    try {
      inputs = await prepareJobFolder(ctx, job);
    } catch (error) {
      await finishJob({ ctx, jobId: job.id, workerId, state: 'failed', error: (error as Error).message });
      return;
    }
    linkJobInputs(jobDir, inputs);
    // Relative to the job folder, where the command runs, so any worker resumes the run with the same paths.
    const args = jobArguments(job, inputs);
    const perStep = tokensPerStep(job);
    const store = eventStore(
      (events) =>
        appendJobEvents({ ctx, jobId: job.id, events, tokensPerStep: perStep }).then(() => undefined),
      (error) => log.error(`job ${job.id}: storing events failed: ${error.message}`),
    );
    const run = runJobCommand(args, { cwd: jobDir, onEvents: store.add });
    this.runs.add(run);
    store.add([
      { type: 'log', data: { stream: 'worker', line: `ownlm ${args.join(' ')} (pid ${run.pid})` } },
    ]);

    let cancelled = false;
    let lost = false;
    const beat = setInterval(
      () => {
        heartbeatJob({ ctx, jobId: job.id, workerId, leaseMs })
          .then((heartbeat) => {
            if (heartbeat.cancelRequested && !cancelled) {
              cancelled = true;
              run.stop();
            }
          })
          .catch((error: Error) => {
            if (error instanceof AppError && error.code === 'conflict') {
              lost = true;
              log.warn(`job ${job.id}: ${error.message}; stopping its command`);
              run.stop();
            } else log.error(`job ${job.id}: heartbeat failed: ${error.message}`);
          });
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );

    try {
      const outcome = await run.done;
      await store.drain();
      if (lost) return;
      if (cancelled) {
        await finishJob({ ctx, jobId: job.id, workerId, state: 'cancelled' });
      } else if (this.stopping && outcome.stopped) {
        await releaseJob({ ctx, jobId: job.id, workerId, reason: 'the server is shutting down' });
      } else if (outcome.code === 0) {
        await completeJob({
          ctx,
          job,
          workerId,
          result: { ...jobOutput(job), ...outcome.result },
        });
      } else if (outcome.signal && !outcome.stopped && job.attempts < MAX_ATTEMPTS) {
        await releaseJob({
          ctx,
          jobId: job.id,
          workerId,
          reason: `the command was killed by ${outcome.signal}; it resumes from its last checkpoint`,
        });
      } else {
        await finishJob({ ctx, jobId: job.id, workerId, state: 'failed', error: outcome.error });
      }
    } finally {
      clearInterval(beat);
      this.runs.delete(run);
    }
  }
}
