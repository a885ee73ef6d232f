import type { DatasetStats } from '../../types.ts';
import { linearScale } from '../chart.ts';
import { bucketLabel } from '../studio-format.ts';

/** Conversation lengths in tokens as bars, with the counts as text for screen readers (the table below). */
export function LengthHistogram({ buckets }: { buckets: DatasetStats['lengthHistogram'] }) {
  if (buckets.length === 0) return null;
  const width = 560;
  const height = 160;
  const barArea = height - 36;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const y = linearScale(0, max, 0, barArea);
  const slot = width / buckets.length;
  // Bars no wider than a thumb, so one bucket alone does not fill the chart.
  const bar = Math.min(slot * 0.76, 56);
  return (
    <figure className="chart histogram">
      <figcaption>Conversation length (tokens)</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="histogram-table">
        {buckets.map((bucket, i) => (
          <g key={bucket.upTo}>
            <rect
              className="bar"
              x={i * slot + (slot - bar) / 2}
              y={16 + barArea - y(bucket.count)}
              width={bar}
              height={y(bucket.count)}
              rx={2}
            />
            <text
              className="bar-value"
              x={i * slot + slot / 2}
              y={12 + barArea - y(bucket.count)}
              textAnchor="middle"
            >
              {bucket.count}
            </text>
            <text className="axis-label" x={i * slot + slot / 2} y={height - 4} textAnchor="middle">
              {bucketLabel(bucket.upTo)}
            </text>
          </g>
        ))}
      </svg>
      <table id="histogram-table" className="visually-hidden">
        <caption>Conversations by length in tokens</caption>
        <tbody>
          {buckets.map((bucket) => (
            <tr key={bucket.upTo}>
              <th scope="row">{bucketLabel(bucket.upTo)}</th>
              <td>{bucket.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
