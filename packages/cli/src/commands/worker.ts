// `ownlm worker`: a remote worker for an ownlm server. It claims jobs over the worker API, downloads their
// inputs, runs the `ownlm` command the server gives (the one its own workers run) in the job's folder, pushes
// events in batches, renews the lease, stops on cancel, uploads what the command made and reports the end; the
// result names the files relative to the job folder, where the server stores their uploaded copies.
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  statSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import {
  eventStore,
  JOB_TYPES,
  runJobCommand,
  type CommandRun,
  type JobEventInput,
  type JobView,
} from '@ownlm/server';
import { defineCommand } from '../command.ts';

/** Events per request (the server takes up to 1000). */
const EVENTS_PER_REQUEST = 500;

interface ClaimAnswer {
  job: JobView;
  lease: { expiresAt: string };
  inputs: { name: string; bytes: number }[];
  /** Checkpoints earlier attempts uploaded (`run/checkpoints/…`), put back in the run folder to resume. */
  checkpoints: { name: string; bytes: number }[];
  /** The `ownlm` arguments to run in the job folder, its inputs under `inputs/`. */
  command: string[];
  /** What the result holds before the command reports: where its output goes. */
  output: Record<string, unknown>;
}

class WorkerApi {
  constructor(
    private readonly server: string,
    private readonly token: string,
  ) {}

  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers: { authorization: `Bearer ${this.token}` },
    };
    if (body instanceof Readable) {
      init.body = Readable.toWeb(body) as unknown as BodyInit;
      init.duplex = 'half';
      (init.headers as Record<string, string>)['content-type'] = 'application/octet-stream';
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const response = await fetch(new URL(path, this.server), init);
    if (!response.ok) {
      const text = await response.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // Not the server's JSON error: the text as it came.
      }
      throw new WorkerApiError(response.status, `${method} ${path}: ${response.status} ${message}`);
    }
    return response;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }
}

class WorkerApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const encodePath = (name: string) => name.split('/').map(encodeURIComponent).join('/');

/** Every file under `path` (itself when it is a file). */
function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(path, entry.name)) : entry.isFile() ? [join(path, entry.name)] : [],
  );
}

export const command = defineCommand({
  name: 'worker',
  summary: 'run training jobs for an ownlm server on this machine',
  usage: 'ownlm worker --server URL --token TOKEN [options]',
  about: `Runs training jobs for an ownlm server on this machine: claims queued jobs over the worker API, downloads
their inputs, runs them, streams progress back, uploads the outputs. Create the token as an admin with
POST /api/worker-tokens.`,
  options: {
    server: {
      kind: 'string',
      required: true,
      placeholder: 'URL',
      rule: [(v: string) => URL.canParse(v), 'a URL such as http://host:8080'],
      help: 'the ownlm server, e.g. http://gpu-host:8080',
    },
    token: {
      kind: 'string',
      placeholder: 'TOKEN',
      defaultHelp: '$OWNLM_WORKER_TOKEN',
      help: 'a worker token, ow-worker-…',
    },
    types: {
      kind: 'strings',
      separator: ',',
      placeholder: 'A,B',
      defaultHelp: `all: ${JOB_TYPES.join(', ')}`,
      help: 'job types to take',
    },
    work_dir: {
      kind: 'string',
      placeholder: 'DIR',
      default: '.ownlm-worker',
      help: 'where inputs and runs are kept',
    },
    poll_seconds: {
      kind: 'number',
      default: 5,
      rule: [(v: number) => v > 0, 'a positive number'],
      help: 'how often to ask for work when there is none',
    },
    once: { kind: 'boolean', help: 'exit after one job' },
  },
  async run({ values, usageError }) {
    const token = values.token ?? process.env.OWNLM_WORKER_TOKEN;
    if (!token) return usageError('give --token (or set OWNLM_WORKER_TOKEN)');
    const types = values.types?.map((t) => t.trim());
    const unknown = types?.find((t) => !(JOB_TYPES as readonly string[]).includes(t));
    if (unknown !== undefined) throw new Error(`--types: '${unknown}' is not one of ${JOB_TYPES.join(', ')}`);
    // Absolute, since each command runs with its job folder as the working directory.
    const workDir = resolve(values.work_dir);
    const api = new WorkerApi(values.server, token);
    const workerId = `remote:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

    let stopping = false;
    let current: CommandRun | null = null;
    const stop = () => {
      stopping = true;
      current?.stop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    console.error(
      `ownlm worker ${workerId}: taking ${types?.join(', ') ?? 'all'} jobs from ${values.server}`,
    );
    try {
      while (!stopping) {
        const response = await api.request('POST', '/api/worker/claim', { workerId, types });
        if (response.status === 204) {
          await sleep(values.poll_seconds * 1000);
          continue;
        }
        const claim = (await response.json()) as ClaimAnswer;
        console.error(`job ${claim.job.id} (${claim.job.type}, attempt ${claim.job.attempts}): started`);
        const state = await runClaim(api, workerId, workDir, claim, (run) => (current = run));
        current = null;
        console.error(`job ${claim.job.id}: ${state}`);
        if (values.once) break;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
});

/** Runs one claimed job to its end; returns how it ended, as reported to the server. */
async function runClaim(
  api: WorkerApi,
  workerId: string,
  workDir: string,
  claim: ClaimAnswer,
  started: (run: CommandRun) => void,
): Promise<string> {
  const { job } = claim;
  const jobDir = join(workDir, job.id);
  const base = `/api/worker/jobs/${encodeURIComponent(job.id)}`;
  const query = `?workerId=${encodeURIComponent(workerId)}`;
  const inputsDir = join(jobDir, 'inputs');
  const downloads = [
    ...claim.inputs.map((input) => ({ ...input, local: join(inputsDir, ...input.name.split('/')) })),
    ...claim.checkpoints.map((file) => ({ ...file, local: join(jobDir, ...file.name.split('/')) })),
  ];
  // Files kept from an earlier attempt at the same job are not fetched again.
  for (const input of downloads) {
    const local = input.local;
    if (existsSync(local) && statSync(local).size === input.bytes) continue;
    mkdirSync(dirname(local), { recursive: true });
    const response = await api.request('GET', `${base}/inputs/${encodePath(input.name)}${query}`);
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream),
      createWriteStream(`${local}.partial`),
    );
    renameSync(`${local}.partial`, local);
  }
  mkdirSync(join(jobDir, 'run'), { recursive: true });

  const store = eventStore(
    async (events: JobEventInput[]) => {
      for (let i = 0; i < events.length; i += EVENTS_PER_REQUEST)
        await api.request('POST', `${base}/events`, {
          workerId,
          events: events.slice(i, i + EVENTS_PER_REQUEST),
        });
    },
    (error) => console.error(`job ${job.id}: sending events failed: ${error.message}`),
  );
  const uploads = new Uploads(api, base, query, jobDir);
  const run = runJobCommand(claim.command, {
    cwd: jobDir,
    onEvents: (events) => {
      store.add(events);
      // Each checkpoint goes to the server too, so any worker that takes the job over resumes from it.
      for (const event of events)
        if (event.type === 'checkpoint' && typeof event.data.dir === 'string')
          uploads.checkpoint(event.data.dir);
    },
  });
  started(run);
  store.add([{ type: 'log', data: { stream: 'worker', line: `ownlm worker ${workerId}: pid ${run.pid}` } }]);
  let cancelled = false;
  let lost = false;
  const leaseMs = Math.max(300, new Date(claim.lease.expiresAt).getTime() - Date.now());
  const beat = setInterval(
    () => {
      api
        .json<{ cancelRequested: boolean }>('POST', `${base}/heartbeat`, { workerId })
        .then((answer) => {
          if (answer.cancelRequested && !cancelled) {
            cancelled = true;
            run.stop();
          }
        })
        .catch((error: Error) => {
          if (error instanceof WorkerApiError && error.status === 409) {
            lost = true;
            run.stop();
          }
          console.error(`job ${job.id}: heartbeat: ${error.message}`);
        });
    },
    Math.floor(leaseMs / 3),
  );
  try {
    const outcome = await run.done;
    await store.drain();
    await uploads.drain();
    if (lost) return 'lost its lease; another worker has it';
    if (outcome.stopped && !cancelled)
      return 'stopped; the server gives it to another worker when the lease ends';
    if (cancelled) {
      await api.request('POST', `${base}/finish`, { workerId, state: 'cancelled' });
      return 'cancelled';
    }
    if (outcome.code !== 0) {
      await api.request('POST', `${base}/finish`, { workerId, state: 'failed', error: outcome.error });
      return `failed: ${outcome.error}`;
    }
    const result = { ...claim.output, ...outcome.result };
    await uploads.outputs(result);
    const finished = await api.json<{ job: JobView }>('POST', `${base}/finish`, {
      workerId,
      state: 'succeeded',
      result,
    });
    return finished.job.state;
  } finally {
    clearInterval(beat);
  }
}

/**
 * What a job uploads to the server: checkpoints as they are saved, and the outputs its result names. Both are
 * named relative to the job folder, as the server stores them.
 */
class Uploads {
  private readonly stored = new Set<string>();
  private queued: string | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly api: WorkerApi,
    private readonly base: string,
    private readonly query: string,
    private readonly jobDir: string,
  ) {}

  /** Uploads a saved checkpoint folder in the background; a newer one replaces one still waiting. */
  checkpoint(dir: string): void {
    if (!this.made(dir)) return;
    this.queued = dir;
    this.running ??= (async () => {
      while (this.queued) {
        const next = this.queued;
        this.queued = null;
        // A checkpoint pruned by the trainer meanwhile is skipped; the next one is complete.
        await this.folder(next).catch((error: Error) =>
          console.error(`checkpoint ${next} not uploaded: ${error.message}`),
        );
      }
      this.running = null;
    })();
  }

  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Uploads every file the result names (paths in the run folder: files, or folders whole). */
  async outputs(result: Record<string, unknown>): Promise<void> {
    for (const value of Object.values(result)) if (this.made(value)) await this.folder(value);
  }

  /** Whether `value` names something the command made in the run folder. */
  private made(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith('run/') && existsSync(join(this.jobDir, value));
  }

  /** Uploads the files under `path`, relative to the job folder, each once. */
  private async folder(path: string): Promise<void> {
    for (const file of filesUnder(join(this.jobDir, path))) {
      const name = relative(this.jobDir, file).split(sep).join('/');
      if (this.stored.has(name)) continue;
      await this.api.request(
        'PUT',
        `${this.base}/artifacts/${encodePath(name)}${this.query}`,
        createReadStream(file),
      );
      this.stored.add(name);
    }
  }
}
