// The server's model-file checks under fuzzing: every input a fuzz run once caught (fuzz-regressions/) is
// replayed, then a seeded run of GGUF mutants. Each must pass or be refused with an AppError naming the file,
// quickly and without large allocations. The full run is `npm run bench -- fuzz-parsers`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { regressionFiles, runFuzz } from '../../../studio/src/fuzz/harness.ts';
import { modelFileTargetRef } from '../testing/fuzz-model-file.ts';

test('kept regression inputs and fresh GGUF mutants pass or are refused with an AppError', async () => {
  const [report] = await runFuzz({
    targets: [modelFileTargetRef],
    count: 500,
    seed: 12,
    jobs: 2,
    replay: true,
  });
  assert.deepEqual(report.failures, []);
  assert.equal(report.inputs, 500 + regressionFiles(modelFileTargetRef).length);
  assert.ok(report.accepted > 0 && report.rejected > 0);
});
