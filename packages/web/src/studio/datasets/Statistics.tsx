// A dataset's statistics: conversations, turns and tokens, messages and tokens by role, and the length histogram.
import { DataTable } from '../../common/DataTable.tsx';
import { formatCount } from '../../common/format.ts';
import type { DatasetStats } from '../../types.ts';
import { Stat } from '../Stats.tsx';
import { LengthHistogram } from './LengthHistogram.tsx';

export function Statistics({ stats }: { stats: DatasetStats }) {
  const roles = ['system', 'user', 'assistant'] as const;
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Statistics</h2>
      <div className="stat-cards">
        <Stat label="Conversations" value={formatCount(stats.conversations)} />
        <Stat label="Turns" value={formatCount(stats.turns)} />
        <Stat
          label="Tokens"
          value={formatCount(stats.tokens.system + stats.tokens.user + stats.tokens.assistant)}
        />
      </div>
      <DataTable
        className="stats-table"
        columns={['Role', { label: 'Messages', number: true }, { label: 'Tokens', number: true }]}
      >
        {roles.map((role) => (
          <tr key={role}>
            <th scope="row">{role}</th>
            <td className="number">{formatCount(stats.messages[role])}</td>
            <td className="number">{formatCount(stats.tokens[role])}</td>
          </tr>
        ))}
      </DataTable>
      <p className="muted small">
        {stats.tokenCounter === 'tokenizer'
          ? 'Tokens counted with the default model’s tokenizer.'
          : 'Tokens estimated as one per four characters (no model to count with).'}
      </p>
      <LengthHistogram buckets={stats.lengthHistogram} />
    </section>
  );
}
