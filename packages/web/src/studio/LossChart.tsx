// Training and validation loss against the step, as an inline SVG drawn by React (no script or style strings,
// so the page's CSP holds). The SVG's label tells screen readers the latest loss.
import { linePath, linearScale, niceTicks, tickLabel } from './chart.ts';
import type { LossPoint } from './job-events.ts';

const width = 640;
const height = 240;
const margin = { top: 12, right: 16, bottom: 30, left: 48 };

export function LossChart({ train, validation }: { train: LossPoint[]; validation: LossPoint[] }) {
  const all = [...train, ...validation];
  if (all.length === 0) return <p className="muted">The loss curve appears with the first training steps.</p>;
  const steps = all.map((p) => p.step);
  const values = all.map((p) => p.value);
  const xTicks = niceTicks(Math.min(0, ...steps), Math.max(...steps), 6);
  const yTicks = niceTicks(Math.min(...values), Math.max(...values), 4);
  const x = linearScale(xTicks[0], xTicks.at(-1)!, margin.left, width - margin.right);
  const y = linearScale(yTicks[0], yTicks.at(-1)!, height - margin.bottom, margin.top);
  const path = (points: LossPoint[]) => linePath(points.map((p) => ({ x: x(p.step), y: y(p.value) })));
  const last = train.at(-1);
  return (
    <figure className="chart loss-chart">
      <figcaption>
        <span className="legend train">training loss</span>
        {validation.length > 0 && <span className="legend validation">validation loss</span>}
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Loss by step${last ? `; latest training loss ${last.value.toFixed(3)} at step ${last.step}` : ''}`}
      >
        {yTicks.map((tick) => (
          <g key={`y${tick}`}>
            <line className="grid" x1={margin.left} x2={width - margin.right} y1={y(tick)} y2={y(tick)} />
            <text className="axis-label" x={margin.left - 6} y={y(tick) + 4} textAnchor="end">
              {tickLabel(tick, yTicks)}
            </text>
          </g>
        ))}
        {xTicks.map((tick) => (
          <text key={`x${tick}`} className="axis-label" x={x(tick)} y={height - 10} textAnchor="middle">
            {tickLabel(tick, xTicks)}
          </text>
        ))}
        <text className="axis-label" x={margin.left - 6} y={height - 10} textAnchor="end">
          step
        </text>
        <path className="line train" d={path(train)} />
        <path className="line validation" d={path(validation)} />
        {validation.map((p) => (
          <circle key={p.step} className="dot validation" cx={x(p.step)} cy={y(p.value)} r={3} />
        ))}
        {train.length === 1 && (
          <circle className="dot train" cx={x(train[0].step)} cy={y(train[0].value)} r={3} />
        )}
      </svg>
    </figure>
  );
}
