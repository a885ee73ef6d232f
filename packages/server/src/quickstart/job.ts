// The first-run quickstart as a job the server drives: `ownlm quickstart --events -` in a child process, its
// JSON lines folded into one QuickstartStatus that the web page shows and the SSE route streams.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.ts';

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

export interface QuickstartJobOptions {
  /** ownlm's data folder; the model lands in `<home>/models/quickstart-f16.gguf`. */
  home: string;
  /** Registers the exported GGUF (with its `.lineage.json` beside it) and returns the registry version id. */
  onModelReady(ggufPath: string): Promise<string>;
  /** Optimizer steps; the command's default when absent. */
  steps?: number;
  /** More arguments for `ownlm quickstart`, e.g. `['--vocab-size', '512']`. */
  extraArgs?: string[];
}

const cli = fileURLToPath(new URL('../../../cli/bin/ownlm.mjs', import.meta.url));
/** Train steps reach listeners at most this often; every other change goes out at once. */
const stepIntervalMs = 250;
const stderrLines = 20;

const idle: QuickstartStatus = {
  state: 'idle',
  stage: null,
  step: null,
  steps: null,
  loss: null,
  etaSeconds: null,
  error: null,
  modelId: null,
};

/** The events of `ownlm quickstart --events` that the status is made of; the rest are ignored. */
type QuickstartLine =
  | { type: 'quickstart-stage'; stage: string }
  | { type: 'run-start'; step: number; steps: number }
  | { type: 'train-step'; step: number; steps: number; loss: number; elapsedSeconds: number }
  | { type: 'run-end'; step: number; loss: number }
  | { type: 'quickstart-done'; model: string };

/**
 * One quickstart at a time, run as a child process. `start` refuses while a run is under way; listeners hear
 * every change (train steps at most four times a second); a listener that throws is ignored.
 */
export class QuickstartJob {
  private current: QuickstartStatus = { ...idle };
  private readonly listeners = new Set<(status: QuickstartStatus) => void>();
  private child: ChildProcess | null = null;
  private run: Promise<void> | null = null;
  private cancelled = false;
  private lastNotified = 0;
  private pendingNotify: NodeJS.Timeout | null = null;

  constructor(private readonly options: QuickstartJobOptions) {}

  status(): QuickstartStatus {
    return { ...this.current };
  }

  /** Starts a run; a conflict while one is under way. Progress arrives through `subscribe`. */
  start(): void {
    if (this.current.state === 'running')
      throw new AppError(
        'conflict',
        'the quickstart is already running; follow it on /api/quickstart/events',
      );
    const { home, steps, extraArgs = [] } = this.options;
    const args = [cli, 'quickstart', '--home', home, '--events', '-'];
    if (steps !== undefined) args.push('--steps', String(steps));
    args.push(...extraArgs);
    this.cancelled = false;
    this.update({ ...idle, state: 'running' });
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.run = this.follow(child).finally(() => {
      this.child = null;
      this.run = null;
    });
  }

  /** Calls `listener` on every change of the status until the returned function is called. */
  subscribe(listener: (status: QuickstartStatus) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stops a run under way (SIGTERM, then SIGKILL after 5 s) and waits for it to end as failed. */
  async cancel(): Promise<void> {
    const { child, run } = this;
    if (!child || !run) return;
    this.cancelled = true;
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    try {
      await run;
    } finally {
      clearTimeout(kill);
    }
  }

  private async follow(child: ChildProcess): Promise<void> {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    const stdout = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    const stderr = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    const stdoutClosed = once(stdout, 'close');
    const stderrClosed = once(stderr, 'close');
    const lastErrors: string[] = [];
    stderr.on('line', (line) => {
      if (line.trim() === '') return;
      lastErrors.push(line);
      if (lastErrors.length > stderrLines) lastErrors.shift();
    });
    let model: string | null = null;
    let startStep = 0;
    stdout.on('line', (line) => {
      const event = parseLine(line);
      if (!event) return;
      switch (event.type) {
        case 'quickstart-stage':
          this.update({ stage: event.stage, etaSeconds: null });
          break;
        case 'run-start':
          startStep = event.step;
          this.update({ step: event.step, steps: event.steps });
          break;
        case 'train-step': {
          const done = event.step - startStep;
          const etaSeconds =
            done > 0 ? Math.round((event.elapsedSeconds / done) * (event.steps - event.step)) : null;
          this.update({ step: event.step, steps: event.steps, loss: event.loss, etaSeconds }, true);
          break;
        }
        case 'run-end':
          this.update({ step: event.step, loss: event.loss, etaSeconds: 0 });
          break;
        case 'quickstart-done':
          model = event.model;
          break;
      }
    });

    const { code, signal, error } = await exited;
    if (!error) await Promise.all([stdoutClosed, stderrClosed]);
    if (this.cancelled) {
      this.update({ state: 'failed', etaSeconds: null, error: 'the quickstart was cancelled' });
      return;
    }
    if (error || code !== 0 || model === null) {
      const output = lastErrors.join('\n').trim();
      const reason = error
        ? `could not start ${cli}: ${error.message}`
        : code !== 0
          ? output || `ownlm quickstart ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`
          : `ownlm quickstart ended without naming its model${output ? `:\n${output}` : ''}`;
      this.update({ state: 'failed', etaSeconds: null, error: reason });
      return;
    }
    try {
      const modelId = await this.options.onModelReady(model);
      this.update({ state: 'succeeded', etaSeconds: null, modelId });
    } catch (failure) {
      this.update({
        state: 'failed',
        etaSeconds: null,
        error: `the model ${model} was made but could not be registered: ${(failure as Error).message}`,
      });
    }
  }

  /** Applies a change and tells listeners: at once, or for train steps at most every `stepIntervalMs`. */
  private update(change: Partial<QuickstartStatus>, throttled = false): void {
    this.current = { ...this.current, ...change };
    if (throttled) {
      const wait = this.lastNotified + stepIntervalMs - performance.now();
      if (wait > 0) {
        this.pendingNotify ??= setTimeout(() => this.notify(), wait);
        return;
      }
    }
    this.notify();
  }

  private notify(): void {
    if (this.pendingNotify) clearTimeout(this.pendingNotify);
    this.pendingNotify = null;
    this.lastNotified = performance.now();
    for (const listener of this.listeners) {
      try {
        listener(this.status());
      } catch {
        // A listener's failure (a closed connection) must not stop the job or the other listeners.
      }
    }
  }
}

/** A line of the command's stdout as one of the events the status needs, or null for anything else. */
function parseLine(line: string): QuickstartLine | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  const numbers = (...keys: string[]) => keys.every((key) => typeof event[key] === 'number');
  switch (event.type) {
    case 'quickstart-stage':
      return typeof event.stage === 'string' ? (event as QuickstartLine) : null;
    case 'run-start':
      return numbers('step', 'steps') ? (event as QuickstartLine) : null;
    case 'train-step':
      return numbers('step', 'steps', 'loss', 'elapsedSeconds') ? (event as QuickstartLine) : null;
    case 'run-end':
      return numbers('step', 'loss') ? (event as QuickstartLine) : null;
    case 'quickstart-done':
      return typeof event.model === 'string' ? (event as QuickstartLine) : null;
    default:
      return null;
  }
}
