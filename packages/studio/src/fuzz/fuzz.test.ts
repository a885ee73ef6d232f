// The parsers of untrusted files under fuzzing, as part of the suite: every input a fuzz run once caught
// (regressions/<target>/) is replayed, then a seeded run of fresh mutants of each target's seeds. Each must be
// accepted or refused with a typed error naming the file; nothing else is thrown, nothing crashes or hangs.
// The full run is the benchmark: `npm run bench -- fuzz-parsers`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { regressionFiles, runFuzz } from './harness.ts';
import { studioTargets } from './targets.ts';

// 500 per target: six targets make as many mutants (3,000) as four did at 750, so the suite takes no longer.
const MUTANTS_PER_TARGET = 500;

test('kept regression inputs and fresh mutants are accepted or refused with a typed error', async () => {
  const reports = await runFuzz({
    targets: studioTargets,
    count: MUTANTS_PER_TARGET,
    seed: 12,
    jobs: 2,
    replay: true,
  });
  assert.deepEqual(
    reports.flatMap((r) => r.failures),
    [],
  );
  for (const [i, report] of reports.entries()) {
    assert.equal(report.inputs, MUTANTS_PER_TARGET + regressionFiles(studioTargets[i]).length);
    assert.ok(report.accepted > 0 && report.rejected > 0, `${report.target}: both outcomes are exercised`);
  }
});
