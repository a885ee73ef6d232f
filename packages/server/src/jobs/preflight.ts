// The estimate shown before a fine-tune is queued (memory, time, tokens, cost), computed by the studio in a
// worker thread from the same base model and dataset the job would use.
import { Worker } from 'node:worker_threads';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { finetuneConfig, jobInputs } from './commands.ts';

export interface JobEstimate {
  memoryBytes: number;
  fits: boolean;
  seconds: number;
  tokens: number;
  cost: number;
  currency: string;
}

/** Estimates a finetune job from its validated params; a 400 with the studio's message when it cannot. */
export async function finetuneEstimate(
  ctx: AppContext,
  params: Record<string, unknown>,
): Promise<JobEstimate> {
  const inputs = await jobInputs(ctx, { id: 'preflight', type: 'finetune', params }, ctx.config.home);
  const config = finetuneConfig(params, inputs.base!, inputs.dataset!);
  const answer = await new Promise<{
    estimate?: { memoryBytes: number; fits: boolean; seconds: number; tokens: number };
    error?: string;
  }>((resolve, reject) => {
    const worker = new Worker(new URL('./preflight-thread.mjs', import.meta.url), { workerData: config });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the preflight thread exited with code ${code}`)));
  });
  if (answer.error !== undefined)
    throw new AppError('invalid_request', `preflight: ${answer.error}`, 'params');
  const { memoryBytes, fits, seconds, tokens } = answer.estimate!;
  return {
    memoryBytes,
    fits,
    seconds,
    tokens,
    cost: (seconds / 3600) * ctx.config.hourlyRate,
    currency: ctx.config.currency,
  };
}
