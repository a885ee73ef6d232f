// Display helpers for the studio pages (datasets, jobs, models), pure so they are tested under node.
import { formatCount } from './format.ts';
import type { FinetuneParams, JobProgress } from './types.ts';

/** A cost in its currency with cents, "$0.00" style for USD and "0.00 EUR" otherwise. */
export function formatCost(cost: number, currency = 'USD'): string {
  const amount = cost.toFixed(cost > 0 && cost < 0.01 ? 4 : 2);
  return currency === 'USD' ? `$${amount}` : `${amount} ${currency}`;
}

/** Tokens per second, whole above 10 and one decimal below. */
export function formatRate(tokensPerSecond: number): string {
  return `${tokensPerSecond >= 10 ? formatCount(Math.round(tokensPerSecond)) : tokensPerSecond.toFixed(1)} tokens/s`;
}

/** Done fraction of a job in [0, 1], or null when the step count is not known yet (an indeterminate bar). */
export function progressFraction(progress: JobProgress | null, finished = false): number | null {
  if (finished) return 1;
  if (!progress?.steps) return null;
  return Math.min(1, Math.max(0, (progress.step ?? 0) / progress.steps));
}

/** The histogram bucket label: "≤ 128 tokens" for the last bounded bucket, "129–256" between. */
export function bucketLabel(buckets: { upTo: number }[], index: number): string {
  const upTo = buckets[index].upTo;
  const from = index === 0 ? 0 : buckets[index - 1].upTo + 1;
  if (!Number.isFinite(upTo)) return `> ${formatCount(from - 1)}`;
  return from === 0 ? `≤ ${formatCount(upTo)}` : `${formatCount(from)}–${formatCount(upTo)}`;
}

export const loraTargets = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;

/** The new fine-tune form's starting values: LoRA rank 8 on the attention projections, three epochs. */
export function defaultFinetuneParams(base: string, dataset: string): FinetuneParams {
  return {
    base,
    dataset,
    method: 'lora',
    rank: 8,
    alpha: 16,
    dropout: 0.05,
    targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    rslora: false,
    lr: 2e-4,
    epochs: 3,
    batchSize: 4,
    context: 512,
    seed: 1,
    merge: false,
  };
}

/** Scenario prompts from the form's text box: one per line, blank lines dropped; absent when none. */
export function parseScenarios(text: string): string[] | undefined {
  const prompts = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return prompts.length > 0 ? prompts : undefined;
}

/** The lineage entries worth a row each, in a stable order: known keys first, then the rest by name. */
export function lineageRows(lineage: Record<string, unknown> | null | undefined): [string, string][] {
  if (!lineage) return [];
  const order = ['base', 'dataset', 'job', 'method', 'hyperparameters', 'metrics'];
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  return Object.keys(lineage)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((key) => {
      const value = lineage[key];
      return [key, typeof value === 'string' ? value : JSON.stringify(value)];
    });
}
