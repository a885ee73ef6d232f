// The estimate shown before a fine-tune is queued (memory, time, tokens, cost), computed by the studio in a
// worker thread from the same base model and dataset the job would use.
import { Worker } from 'node:worker_threads';
import { ConfigError, resolveFinetuneConfig, type FinetuneConfig } from '@ownlm/studio';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { jobInputs } from './commands.ts';

export interface JobEstimate {
  memoryBytes: number;
  fits: boolean;
  seconds: number;
  tokens: number;
  cost: number;
  currency: string;
}

/** The studio's config for validated finetune job params (camelCase API names to the config's keys). */
function finetuneConfig(inputs: Record<string, string>, params: Record<string, unknown>): FinetuneConfig {
  const given: Record<string, unknown> = {
    base: inputs.base,
    data: inputs.dataset,
    out: 'preflight',
    method: params.method,
    rank: params.rank,
    alpha: params.alpha,
    lora_dropout: params.dropout,
    targets: params.targets,
    rslora: params.rslora,
    lr: params.lr,
    epochs: params.epochs,
    steps: params.steps,
    batch_size: params.batchSize,
    context: params.context,
    seed: params.seed,
    merge: params.merge,
  };
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  try {
    return resolveFinetuneConfig(defined as Partial<FinetuneConfig>, 'params');
  } catch (error) {
    if (error instanceof ConfigError) throw new AppError('invalid_request', error.message, 'params');
    throw error;
  }
}

/** Estimates a finetune job from its validated params; a 400 with the studio's message when it cannot. */
export async function finetuneEstimate(
  ctx: AppContext,
  params: Record<string, unknown>,
): Promise<JobEstimate> {
  const inputs = await jobInputs(ctx, { id: 'preflight', type: 'finetune', params }, ctx.config.home);
  const config = finetuneConfig(inputs, params);
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
