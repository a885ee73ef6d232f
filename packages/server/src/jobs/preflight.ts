// The estimate shown before a fine-tune is queued (memory, time, tokens, cost), computed by the studio from the
// same base model and dataset the job would use, in the app's worker threads (./preflight-thread.ts). A
// preflight encodes the whole dataset, so only as many run at once as there are threads; the others wait their
// turn up to --preflight-wait-seconds, then get 503 `overloaded`. Estimates are kept by (base version, dataset,
// settings): a version's file and a dataset's conversations never change, so the same question gets the same
// answer, and the same question asked again while it is computed waits for that one answer.
import type { FinetuneEstimate } from '@ownlm/studio';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { SlotPool } from '../serve/slot-pool.ts';
import { runInThread, THREADS } from '../threads.ts';
import { finetuneConfig, jobInputs } from './job-types.ts';

export interface JobEstimate {
  memoryBytes: number;
  fits: boolean;
  seconds: number;
  tokens: number;
  cost: number;
  currency: string;
}

/** Estimates kept per app, most recently asked last. */
const KEPT_ESTIMATES = 64;
/** Preflights waiting for a turn before the next is refused at once. */
const MAX_WAITING = 64;

interface Preflights {
  turns: SlotPool<number>;
  estimates: Map<string, Promise<FinetuneEstimate>>;
}

const preflights = new WeakMap<AppContext, Preflights>();

function preflightsOf(ctx: AppContext): Preflights {
  let state = preflights.get(ctx);
  if (!state) {
    const turns = Array.from({ length: THREADS }, (_, i) => i);
    state = { turns: new SlotPool(turns, MAX_WAITING, 'the fine-tune preflight'), estimates: new Map() };
    preflights.set(ctx, state);
  }
  return state;
}

async function compute(ctx: AppContext, turns: SlotPool<number>, config: ReturnType<typeof finetuneConfig>) {
  const wait = ctx.config.preflightWaitMs;
  const turn = await turns.acquire(AbortSignal.timeout(wait));
  if (turn === null)
    throw new AppError(
      'overloaded',
      `${THREADS} fine-tune preflights are being computed and this one waited ${wait / 1000} s for its turn; ` +
        'retry shortly',
    );
  try {
    const answer = await runInThread(ctx, 'finetune-preflight', config);
    if (answer.error !== undefined)
      throw new AppError('invalid_request', `preflight: ${answer.error}`, 'params');
    return answer.estimate;
  } finally {
    turns.release(turn);
  }
}

/** Estimates a finetune job from its validated params; a 400 with the studio's message when it cannot. */
export async function finetuneEstimate(
  ctx: AppContext,
  params: Record<string, unknown>,
  userId: string,
): Promise<JobEstimate> {
  const inputs = await jobInputs(ctx, { id: 'preflight', userId, type: 'finetune', params });
  const config = finetuneConfig(params, inputs.base!, inputs.dataset!);
  // The settings without the paths, which name the same version and dataset on every request.
  const settings = { ...config, base: undefined, data: undefined, out: undefined };
  const key = JSON.stringify([params.base, params.dataset, settings]);
  const { turns, estimates } = preflightsOf(ctx);
  let estimate = estimates.get(key);
  if (estimate) estimates.delete(key);
  else {
    const computing = compute(ctx, turns, config);
    // A failure is not kept: the next request computes again.
    computing.catch(() => {
      if (estimates.get(key) === computing) estimates.delete(key);
    });
    estimate = computing;
  }
  estimates.set(key, estimate);
  if (estimates.size > KEPT_ESTIMATES) estimates.delete(estimates.keys().next().value!);
  const { memoryBytes, fits, seconds, tokens } = await estimate;
  return {
    memoryBytes,
    fits,
    seconds,
    tokens,
    cost: (seconds / 3600) * ctx.config.hourlyRate,
    currency: ctx.config.currency,
  };
}
