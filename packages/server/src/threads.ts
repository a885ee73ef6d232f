// The app's worker threads: work a request asks for that would hold the event loop for seconds — storing a
// dataset's file, a fine-tune preflight — runs in the studio's WorkerPool (tasks in ./thread-tasks.ts), started
// on first use and stopped when the app closes.
import { WorkerPool } from '@ownlm/studio';
import type { AppContext } from './context.ts';
import type { ThreadTasks } from './thread-tasks.ts';

/** Threads per app: two requests' work at once beside the event loop (the machine this was sized on has 2 cores). */
export const THREADS = 2;

const pools = new WeakMap<AppContext, WorkerPool>();

/** Runs `task` on `request` in one of the app's threads; its errors come back as errors. */
export function runInThread<Task extends keyof ThreadTasks>(
  ctx: AppContext,
  task: Task,
  request: Parameters<ThreadTasks[Task]>[0],
): Promise<ReturnType<ThreadTasks[Task]>> {
  let pool = pools.get(ctx);
  if (!pool) {
    pool = new WorkerPool(new URL('./thread-tasks.ts', import.meta.url), null, THREADS);
    pools.set(ctx, pool);
  }
  return pool.run({ task, request });
}

/** Stops the app's threads (for its close hooks; a later task starts them again). */
export async function closeThreads(ctx: AppContext): Promise<void> {
  const pool = pools.get(ctx);
  pools.delete(ctx);
  await pool?.close();
}
