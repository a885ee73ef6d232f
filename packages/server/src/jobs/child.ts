// One run of a job's `ownlm` command as a child process (the training never runs on the server's event loop):
// its JSON lines and stderr become job events, its final line the result. Used by the server's local workers
// and by `ownlm worker` on other machines alike.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CommandEventMapper, type JobEventInput } from './events.ts';
import { relativeTo } from './job-folder.ts';

export const OWNLM_CLI = fileURLToPath(new URL('../../../cli/bin/ownlm.mjs', import.meta.url));

/** Lines of stderr kept for the error message of a failed run. */
const STDERR_TAIL = 20;

export interface CommandOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether `stop` was called (the worker ended the run: cancel, shutdown, lost lease). */
  stopped: boolean;
  /** What the command's final lines reported (`run-end`, `finetune-done`, …), merged. */
  result: Record<string, unknown>;
  /** Why a run that did not exit 0 failed: the last stderr lines, or how it ended. */
  error: string | null;
}

export interface CommandRun {
  pid: number | undefined;
  done: Promise<CommandOutcome>;
  /**
   * SIGTERM, then SIGKILL after `graceMs` when the command has not ended. Training runs in a synchronous loop,
   * so a command often cannot act on SIGTERM before the kill; its checkpoints are atomic, so that is safe.
   */
  stop(graceMs?: number): void;
}

/**
 * Starts `ownlm <args>` in the job folder `cwd`; `onEvents` receives each line's events in order, its paths
 * relative to the job folder. A command that prints a JSON object with no `type` (`ownlm eval --json`) has it
 * merged into the result.
 */
export function runJobCommand(
  args: string[],
  options: { cwd: string; onEvents: (events: JobEventInput[]) => void },
): CommandRun {
  const child = spawn(process.execPath, [OWNLM_CLI, ...args], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const mapper = new CommandEventMapper(options.cwd);
  const result: Record<string, unknown> = {};
  const stderrTail: string[] = [];
  let stopped = false;
  let killTimer: NodeJS.Timeout | null = null;

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    },
  );
  const stdout = createInterface({ input: child.stdout, crlfDelay: Infinity });
  const stderr = createInterface({ input: child.stderr, crlfDelay: Infinity });
  const closed = Promise.all([once(stdout, 'close'), once(stderr, 'close')]);
  stdout.on('line', (line) => {
    if (line.trim() === '') return;
    const mapped = mapper.map(line);
    if (mapped.result) Object.assign(result, mapped.result);
    if (mapped.events.length > 0) options.onEvents(mapped.events);
  });
  stderr.on('line', (raw) => {
    // Progress bars redraw with carriage returns; the last drawing is the line.
    const line = relativeTo(raw.split('\r').at(-1)!.trimEnd(), [options.cwd]);
    if (line.trim() === '') return;
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    options.onEvents([{ type: 'log', data: { stream: 'stderr', line } }]);
  });

  const done = (async (): Promise<CommandOutcome> => {
    const { code, signal, error } = await exited;
    if (!error) await closed;
    if (killTimer) clearTimeout(killTimer);
    const output = stderrTail.join('\n').trim();
    const command = `ownlm ${args.slice(0, 2).join(' ')}`;
    const failure = error
      ? `could not start ${OWNLM_CLI}: ${error.message}`
      : code === 0
        ? null
        : output || `${command} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`;
    return { code, signal, stopped, result, error: failure };
  })();

  return {
    pid: child.pid,
    done,
    stop(graceMs = 1000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), graceMs);
    },
  };
}
