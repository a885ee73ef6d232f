import { formatCount, formatDuration } from '../common/format.ts';
import type { JobTotals } from '../types.ts';
import { formatCost } from './studio-format.ts';

/** One figure of a row of stat cards: a small label above the value. */
export function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="stat">
      <span className="muted small">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

/** What one job, or all of the user's, took: machine time, cost (in US dollars unless a currency is given) and
 * tokens processed. */
export function JobStats({ totals, label }: { totals: JobTotals; label?: string }) {
  return (
    <div className="stat-cards" aria-label={label}>
      <Stat label="Machine time" value={formatDuration(totals.wallSeconds)} />
      <Stat label="Cost" value={formatCost(totals.cost, totals.currency)} />
      <Stat label="Tokens processed" value={formatCount(totals.tokensProcessed)} />
    </div>
  );
}
