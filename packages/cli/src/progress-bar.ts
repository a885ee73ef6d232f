// A terminal progress bar with rate and ETA. On a non-TTY stream (CI, logs) it prints a line every few
// seconds instead of redrawing, so logs stay readable.

export interface ProgressBarOptions {
  /** Label printed before the bar. */
  label: string;
  /** Total units of work; 0 when unknown. */
  total: number;
  /** Unit name for the rate, e.g. "MB", "tok", "step". */
  unit: string;
  stream?: NodeJS.WriteStream;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function formatNumber(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return x >= 100 || Number.isInteger(x) ? x.toFixed(0) : x.toFixed(2);
}

export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly start = performance.now();
  private lastDraw = 0;
  private done = 0;
  private detail = '';

  constructor(private readonly options: ProgressBarOptions) {
    this.stream = options.stream ?? process.stderr;
  }

  /** Sets the amount done so far and an optional detail shown after the bar (e.g. "loss 2.31"). */
  update(done: number, detail?: string): void {
    this.done = done;
    if (detail !== undefined) this.detail = detail;
    const now = performance.now();
    const interval = this.stream.isTTY ? 100 : 5000;
    if (now - this.lastDraw >= interval) {
      this.lastDraw = now;
      this.draw(false);
    }
  }

  /** Draws the final state and moves to a new line. */
  finish(detail?: string): void {
    if (detail !== undefined) this.detail = detail;
    this.draw(true);
  }

  private draw(final: boolean): void {
    const { label, total, unit } = this.options;
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = total > 0 && rate > 0 ? (total - this.done) / rate : Number.NaN;
    const fraction = total > 0 ? Math.min(1, this.done / total) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar =
      total > 0
        ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`
        : '';
    const counts = total > 0 ? `${formatNumber(this.done)}/${formatNumber(total)}` : formatNumber(this.done);
    const timing = final ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`;
    const line = `${label} ${bar} ${counts} ${unit} ${formatNumber(rate)} ${unit}/s ${timing}${this.detail ? `  ${this.detail}` : ''}`;
    if (this.stream.isTTY) this.stream.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
