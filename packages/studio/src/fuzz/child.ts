// The child process of a fuzz run (harness.ts): loads the targets and their seeds, then runs the jobs it is sent,
// one input at a time, noting before each where it is so the parent can name the input that hangs or crashes it.
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import {
  classify,
  emptyResult,
  loadTarget,
  makeInput,
  type ChildSetup,
  type Job,
  type PreparedTarget,
  type Verdict,
} from './harness.ts';

/** A jump in heap and buffer memory during one input that counts as an allocation sized by the input. */
const MEMORY_JUMP = 512 * 2 ** 20;

const memory = () => {
  const stats = getHeapStatistics();
  return stats.used_heap_size + stats.external_memory;
};

async function serve(setup: ChildSetup): Promise<void> {
  const targets = new Map<string, PreparedTarget>();
  for (const ref of setup.targets) targets.set(ref.name, await loadTarget(ref, ref.seeds));
  const progressFd = openSync(setup.progressFile, 'r+');
  const progress = new Float64Array(3);
  mkdirSync(setup.scratch, { recursive: true });

  process.on('message', async ({ number, job }: { number: number; job: Job }) => {
    const prepared = targets.get(job.target)!;
    const input = join(setup.scratch, prepared.target.fileName);
    const scratch = join(setup.scratch, 'out');
    const result = emptyResult();
    for (let position = 0; position < job.items.length; position++) {
      const item = job.items[position];
      progress.set([number, position, Date.now()]);
      writeSync(progressFd, progress, 0, 24, 0);
      let bytes: Uint8Array;
      try {
        bytes = typeof item === 'string' ? readFileSync(item) : makeInput(prepared, setup.runSeed, item);
      } catch (error) {
        // A fault of the fuzzer, not of a parser; reported so that it gets fixed.
        const message = `making the input failed: ${(error as Error).stack?.split('\n').slice(0, 3).join(' ')}`;
        result.failures.push({ target: job.target, input: item, reason: 'mutator-error', message });
        continue;
      }
      writeFileSync(input, bytes);
      rmSync(scratch, { recursive: true, force: true });
      mkdirSync(scratch);
      progress[2] = Date.now();
      writeSync(progressFd, progress, 0, 24, 0);
      // Garbage left by earlier inputs is collected first, so the jump measures this input alone.
      if (memory() > MEMORY_JUMP) globalThis.gc?.();
      const before = memory();
      const start = performance.now();
      let error: unknown;
      let verdict: Verdict = undefined;
      try {
        verdict = await prepared.target.run(input, scratch);
      } catch (thrown) {
        error = thrown ?? new Error('thrown null');
      }
      const ms = performance.now() - start;
      result.busyMs += ms;
      let outcome = classify(error, input, verdict);
      const allocated = memory() - before;
      if (allocated > MEMORY_JUMP)
        outcome = {
          kind: 'failure',
          reason: 'memory',
          message: `${(allocated / 2 ** 20).toFixed(0)} MiB allocated`,
        };
      if (typeof item === 'number' && item < prepared.seeds.length && outcome.kind !== 'accepted')
        outcome = {
          kind: 'failure',
          reason: 'seed-rejected',
          message: `seed ${item} was not accepted: ${String(error)}`,
        };
      if (outcome.kind === 'failure')
        result.failures.push({
          target: job.target,
          input: item,
          reason: outcome.reason,
          message: outcome.message,
        });
      else result[outcome.kind]++;
      if (ms > result.slowestMs) {
        result.slowestMs = ms;
        result.slowestInput = item;
      }
    }
    process.send!(result);
  });
  process.send!('ready');
}

process.once('message', (setup: ChildSetup) => {
  serve(setup).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
