// Wall time of each quickstart stage and the final validation perplexity, from a fresh data folder.
// Usage: npm run bench -- quickstart [--steps N]   (default: the quickstart's own 800 steps)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { steps: { type: 'string' } } });
const home = mkdtempSync(join(tmpdir(), 'ownlm-bench-quickstart-'));
try {
  const cli = new URL('../packages/cli/bin/ownlm.mjs', import.meta.url).pathname;
  const args = [cli, 'quickstart', '--home', home, ...(values.steps ? ['--steps', values.steps] : [])];
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const total = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`quickstart failed:\n${run.stdout}`);
  const stages = /Stage times: (.*)/.exec(run.stdout)?.[1];
  const quality = /perplexity ([\d.]+), ([\d.]+) bits per byte/.exec(run.stdout);
  const speed = /([\d.]+) tok\/s\s*$/m.exec(
    run.stdout
      .split('\n')
      .filter((l) => l.includes('tok/s'))
      .pop() ?? '',
  );
  console.log(`quickstart: ${total.toFixed(0)} s in all (${stages})`);
  console.log(
    `validation perplexity ${quality?.[1]}, ${quality?.[2]} bits per byte; training ${speed?.[1] ?? '?'} tok/s`,
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}
