// Display helpers for the studio pages (datasets, jobs, models), pure so they are tested under node.
import { formatCount } from '../common/format.ts';
import type { JobProgress } from '../types.ts';

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

/** A length-histogram bucket's label. Buckets are powers of two, each holding the conversations longer than
 * half its bound and at most the bound: "≤ 1", "2", "3–4", "65–128". */
export function bucketLabel(upTo: number): string {
  if (upTo <= 1) return '≤ 1';
  const from = Math.floor(upTo / 2) + 1;
  return from === upTo ? formatCount(upTo) : `${formatCount(from)}–${formatCount(upTo)}`;
}

/** Scenario prompts from the form's text box: one per line, blank lines dropped; absent when none. */
export function parseScenarios(text: string): string[] | undefined {
  const prompts = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return prompts.length > 0 ? prompts : undefined;
}

/** A JSON value as `key=value` pairs and [lists], numbers to at most six significant digits. */
function readable(value: unknown): string {
  if (typeof value === 'number')
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (Array.isArray(value)) return `[${value.map(readable).join(', ')}]`;
  if (value && typeof value === 'object') {
    const pairs = Object.entries(value).map(([k, v]) => {
      const text = readable(v);
      return `${k}=${v && typeof v === 'object' && !Array.isArray(v) ? `{${text}}` : text}`;
    });
    return pairs.join(', ');
  }
  return String(value);
}

/** The lineage entries worth a row each, in a stable order: known keys first, then the rest by name; objects
 * and lists as readable text. */
export function lineageRows(lineage: Record<string, unknown> | null | undefined): [string, string][] {
  if (!lineage) return [];
  const order = ['base', 'dataset', 'job', 'method', 'hyperparameters', 'metrics'];
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  return Object.keys(lineage)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((key) => {
      const value = lineage[key];
      return [key, typeof value === 'string' ? value : readable(value)];
    });
}
