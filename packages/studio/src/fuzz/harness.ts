// Runs fuzz targets in child processes under a watchdog. Input `i` of a target is a pure function of (run seed,
// target, i): the seeds are made once here and handed to the children, each child mutates and runs its share,
// and a failing input is made again here to be kept. Each input ends as one of:
//   accepted  — the parsers took it;
//   rejected  — one of ownlm's typed errors (FormatError, DataError, AppError…) with a code, naming the file;
//   failure   — any other exception (RangeError, TypeError, a Node ERR_*), a typed error that does not name the
//               file, a crash of the child, more than `timeoutMs` on one input (a hang), or a jump of more than
//               512 MiB in the child's heap and buffers (an allocation sized by the input); also a fault of
//               the mutator itself, so that it is seen and fixed.
// Failing inputs are written to the regression folder, one per distinct failure, named by content hash.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  closeSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '@ownlm/engine';

export interface FuzzTarget {
  /** Names the target in reports. */
  name: string;
  /** The input's file name as the parsers see it; every rejection must name the file. */
  fileName: string;
  /** Writes the seeds into `dir` with ownlm's own writers and returns their bytes. */
  makeSeeds(dir: string): Promise<Uint8Array[]>;
  /** A mutator for each seed (given all of them, so one may borrow from the others). */
  mutators(seeds: readonly Uint8Array[]): ((random: Random) => Uint8Array)[];
  /**
   * Feeds the file at `path` through the parsers (`scratch` is an empty folder for their outputs). Returns
   * 'rejected' when they refused it without throwing (an importer that reports bad lines and goes on).
   */
  run(path: string, scratch: string): Verdict | Promise<Verdict>;
}

export type Verdict = 'rejected' | void;

/** A target by the module that exports it, so a child process can load it too. */
export interface TargetRef {
  module: string;
  name: string;
  /** The folder of inputs that once failed, replayed by the tests. */
  regressions: string;
}

/** JavaScript's own error classes; Node's errors are these too, with an ERR_* or errno `code`. */
const BUILT_IN_ERRORS = new Set(
  Object.getOwnPropertyNames(globalThis).filter((name) => /^([A-Z]\w*)?Error$/.test(name)),
);

/** ownlm's typed errors (FormatError, DataError, AppError…): their own class and a code from a closed set. */
export function isTypedError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error &&
    !BUILT_IN_ERRORS.has(error.name) &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

export type FailureReason =
  'untyped-error' | 'unclear-rejection' | 'hang' | 'crash' | 'memory' | 'seed-rejected' | 'mutator-error';

export interface Failure {
  target: string;
  /** The input's index in the run, or the regression file replayed. */
  input: number | string;
  reason: FailureReason;
  message: string;
  /** Where the input was kept (new regression files only). */
  kept?: string;
}

export interface TargetReport {
  target: string;
  inputs: number;
  accepted: number;
  rejected: number;
  failures: Failure[];
  /** The slowest input's time in the child, and which input it was. */
  slowestMs: number;
  slowestInput: number | string;
  /** Time the parsers took over all inputs (not counting making and writing them). */
  busyMs: number;
}

export type Outcome =
  { kind: 'accepted' | 'rejected' } | { kind: 'failure'; reason: FailureReason; message: string };

/** How one input's run ended (see the opening comment). */
export function classify(error: unknown, path: string, verdict: Verdict): Outcome {
  if (error === undefined) return { kind: verdict === 'rejected' ? 'rejected' : 'accepted' };
  if (isTypedError(error))
    return error.message.includes(path)
      ? { kind: 'rejected' }
      : {
          kind: 'failure',
          reason: 'unclear-rejection',
          message: `${error.name} [${error.code}]: ${error.message}`,
        };
  if (!(error instanceof Error))
    return { kind: 'failure', reason: 'untyped-error', message: `thrown ${String(error)}`.slice(0, 300) };
  // Where it was thrown, so failures with one message but different causes stay apart.
  const frame = error.stack?.split('\n').find((line) => line.includes('/packages/'));
  const where = frame ? ` (${frame.trim().replace(/\(.*?(packages\/[^:]*:\d+):\d+\)$/, '($1)')})` : '';
  return {
    kind: 'failure',
    reason: 'untyped-error',
    message: `${error.name}: ${error.message.slice(0, 300)}${where}`,
  };
}

/** A loaded target with its seeds and one mutator per seed. */
export interface PreparedTarget {
  target: FuzzTarget;
  seeds: Uint8Array[];
  mutators: ((random: Random) => Uint8Array)[];
}

export async function loadTarget(ref: TargetRef, seedFiles: readonly string[]): Promise<PreparedTarget> {
  const module = (await import(ref.module)) as Record<string, unknown>;
  const target = Object.values(module).find((v) => (v as FuzzTarget | null)?.name === ref.name) as
    FuzzTarget | undefined;
  if (!target) throw new Error(`fuzz: ${ref.module} exports no target named ${ref.name}`);
  const seeds = seedFiles.map((file) => new Uint8Array(readFileSync(file)));
  return { target, seeds, mutators: target.mutators(seeds) };
}

/** Input `index` of a run: the seeds themselves first (they must be accepted), then mutants of each in turn. */
export function makeInput(prepared: PreparedTarget, runSeed: number, index: number): Uint8Array {
  const { seeds, mutators, target } = prepared;
  if (index < seeds.length) return seeds[index];
  let hash = 2166136261 ^ runSeed;
  for (let i = 0; i < target.name.length; i++) hash = Math.imul(hash ^ target.name.charCodeAt(i), 16777619);
  const random = new Random(Math.imul(hash ^ index, 2654435761) ^ (index >>> 16));
  return mutators[index % seeds.length](random);
}

/** What a child is asked to run: generated inputs (by index) and files (by path) of one target. */
export interface Job {
  target: string;
  items: (number | string)[];
}

export type JobResult = Omit<TargetReport, 'target' | 'inputs'>;

/** A job's result before its first input. */
export const emptyResult = (): JobResult => ({
  accepted: 0,
  rejected: 0,
  failures: [],
  slowestMs: 0,
  slowestInput: 0,
  busyMs: 0,
});

export interface ChildSetup {
  targets: (TargetRef & { seeds: string[] })[];
  runSeed: number;
  /** The child writes (job number, position in the job, start time) here before each input. */
  progressFile: string;
  /** Where the child writes inputs and parsers write their outputs (a RAM disk when there is one). */
  scratch: string;
  timeoutMs: number;
}

/** The error lines of a dead child's stderr (where it says what went wrong), or its last lines. */
function crashReport(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  const errors = lines.filter((line) => /Error|FATAL|Abort|signal/i.test(line) && !line.startsWith('at '));
  return (errors.length > 0 ? errors : lines.filter((line) => line !== '').slice(-3)).slice(0, 3).join(' | ');
}

const childModule = fileURLToPath(new URL('./child.ts', import.meta.url));

/** One child process and its watchdog. */
class FuzzChild {
  private readonly process: ChildProcess;
  private stderr = '';
  private jobNumber = 0;
  private readonly progress = new Float64Array(3);
  private readonly ready: Promise<void>;

  constructor(private readonly setup: ChildSetup) {
    // A killed predecessor's last note must not read as this child's progress.
    writeFileSync(setup.progressFile, new Uint8Array(24));
    this.process = fork(childModule, [], {
      execArgv: ['--import', import.meta.resolve('tsx'), '--max-old-space-size=2048', '--expose-gc'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.process.stderr!.on(
      'data',
      (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-2000)),
    );
    this.ready = new Promise((resolve, reject) => {
      this.process.once('message', () => resolve());
      this.process.once('exit', (code) =>
        reject(new Error(`fuzz child exited (${code}) while starting: ${this.stderr}`)),
      );
    });
    // Awaited by run(); a child closed before its first job must not be an unhandled rejection.
    this.ready.catch(() => undefined);
    this.process.send(setup);
  }

  /** Runs a job; a hang or a crash ends it early, with the position of the input that caused it. */
  async run(
    job: Job,
  ): Promise<{ result: JobResult } | { died: number; reason: FailureReason; message: string }> {
    await this.ready;
    const number = ++this.jobNumber;
    const fd = openSync(this.setup.progressFile, 'r');
    try {
      return await new Promise((resolve) => {
        const position = () => {
          readSync(fd, this.progress, 0, 24, 0);
          return this.progress[0] === number ? this.progress : null;
        };
        const finish = (value: Awaited<ReturnType<FuzzChild['run']>>) => {
          clearInterval(watchdog);
          this.process.off('message', onMessage);
          this.process.off('exit', onExit);
          resolve(value);
        };
        const onMessage = (result: JobResult) => finish({ result });
        const onExit = (code: number | null, signal: string | null) => {
          finish({
            died: position()?.[1] ?? 0,
            reason: 'crash',
            message: `the child process exited (${signal ?? `code ${code}`}): ${crashReport(this.stderr)}`,
          });
        };
        const watchdog = setInterval(() => {
          const current = position();
          if (current && Date.now() - current[2] > this.setup.timeoutMs) {
            this.process.off('exit', onExit);
            this.process.kill('SIGKILL');
            finish({
              died: current[1],
              reason: 'hang',
              message: `still running after ${this.setup.timeoutMs / 1000} s`,
            });
          }
        }, 100);
        this.process.on('message', onMessage);
        this.process.on('exit', onExit);
        this.process.send({ number, job });
      });
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    this.process.kill('SIGKILL');
  }
}

export interface FuzzOptions {
  targets: readonly TargetRef[];
  /** Generated inputs per target (the seeds count among them). */
  count: number;
  seed: number;
  /** Child processes (default: the cores, at most 4). */
  jobs?: number;
  /** Longest a single input may run (default 5 s). */
  timeoutMs?: number;
  /** Replay each target's regression files first. */
  replay?: boolean;
  /** Keep the first input of each distinct failure in the target's regression folder. */
  keep?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Runs every target's inputs and returns one report per target. */
export async function runFuzz(options: FuzzOptions): Promise<TargetReport[]> {
  const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'ownlm-fuzz-'));
  try {
    const prepared = new Map<string, PreparedTarget>();
    const setupTargets: ChildSetup['targets'] = [];
    for (const ref of options.targets) {
      const { target } = await loadTarget(ref, []);
      const seedDir = join(work, 'seeds', ref.name);
      mkdirSync(seedDir, { recursive: true });
      const seeds = (await target.makeSeeds(seedDir)).map((bytes, i) => {
        const file = join(seedDir, `seed-${i}.bin`);
        writeFileSync(file, bytes);
        return file;
      });
      prepared.set(ref.name, await loadTarget(ref, seeds));
      setupTargets.push({ ...ref, seeds });
    }
    const jobs: Job[] = [];
    for (const ref of options.targets) {
      const files = options.replay ? regressionFiles(ref) : [];
      if (files.length > 0) jobs.push({ target: ref.name, items: files });
      for (let from = 0; from < options.count; from += 250) {
        const length = Math.min(250, options.count - from);
        jobs.push({ target: ref.name, items: Array.from({ length }, (_, i) => from + i) });
      }
    }
    const reports = new Map<string, TargetReport>(
      options.targets.map((ref) => [ref.name, { target: ref.name, inputs: 0, ...emptyResult() }]),
    );
    const total = jobs.reduce((n, job) => n + job.items.length, 0);
    let done = 0;
    const timeoutMs = options.timeoutMs ?? 5000;
    const slots = options.jobs ?? Math.min(4, availableParallelism());
    await Promise.all(
      Array.from({ length: slots }, async (_, slot) => {
        const setup = (): ChildSetup => ({
          targets: setupTargets,
          runSeed: options.seed,
          progressFile: join(work, `progress-${slot}`),
          scratch: join(work, `scratch-${slot}`),
          timeoutMs,
        });
        let child = new FuzzChild(setup());
        try {
          for (let job = jobs.shift(); job; job = jobs.shift()) {
            const report = reports.get(job.target)!;
            const outcome = await child.run(job);
            if ('result' in outcome) {
              const { result } = outcome;
              const count = job.items.length;
              report.inputs += count;
              report.accepted += result.accepted;
              report.rejected += result.rejected;
              report.failures.push(...result.failures);
              report.busyMs += result.busyMs;
              if (result.slowestMs > report.slowestMs) {
                report.slowestMs = result.slowestMs;
                report.slowestInput = result.slowestInput;
              }
              done += count;
            } else {
              // The input at `died` hung or crashed the child: count it, start a new child, and run the job's
              // other inputs again there (their results went with the child).
              report.inputs += 1;
              report.failures.push({
                target: job.target,
                input: job.items[outcome.died],
                reason: outcome.reason,
                message: outcome.message,
              });
              done += 1;
              const rest = job.items.filter((_, i) => i !== outcome.died);
              if (rest.length > 0) jobs.unshift({ target: job.target, items: rest });
              child.close();
              child = new FuzzChild(setup());
            }
            options.onProgress?.(done, total);
          }
        } finally {
          child.close();
        }
      }),
    );
    if (options.keep)
      for (const ref of options.targets)
        keepFailures(reports.get(ref.name)!, ref, prepared.get(ref.name)!, options.seed);
    return [...reports.values()];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The distinct failures among `failures` (the same reason and message but for numbers and quoted names), each
 * with the first input that showed it and how many did. */
export function distinctFailures(failures: readonly Failure[]): { first: Failure; count: number }[] {
  const byKind = new Map<string, { first: Failure; count: number }>();
  for (const failure of failures) {
    const kind = `${failure.target} ${failure.reason} ${failure.message.replace(/"[^"]*"|'[^']*'|\d+/g, '#').slice(0, 200)}`;
    const seen = byKind.get(kind);
    if (seen) seen.count++;
    else byKind.set(kind, { first: failure, count: 1 });
  }
  return [...byKind.values()];
}

/** Writes the first generated input of each distinct failure into the target's regression folder. */
function keepFailures(report: TargetReport, ref: TargetRef, prepared: PreparedTarget, runSeed: number): void {
  for (const { first } of distinctFailures(report.failures.filter((f) => typeof f.input === 'number'))) {
    const bytes = makeInput(prepared, runSeed, first.input as number);
    mkdirSync(ref.regressions, { recursive: true });
    first.kept = join(
      ref.regressions,
      `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`,
    );
    writeFileSync(first.kept, bytes);
  }
}

/** The target's kept failing inputs. */
export function regressionFiles(ref: TargetRef): string[] {
  if (!existsSync(ref.regressions)) return [];
  return readdirSync(ref.regressions)
    .sort()
    .map((file) => join(ref.regressions, file));
}
