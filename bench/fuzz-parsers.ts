// fuzz-parsers: mutated GGUF, safetensors, tokenizer.json, config.json, adapter_config.json and conversation
// JSONL files (seeds made by ownlm's own writers, mutated structure-aware: lengths and counts at their edges,
// invalid and nested type tags, truncation at every boundary, JSON of the wrong types, repeated keys, deep
// nesting, huge numbers) through the hardened parsers and the server's model-file check, each input in a
// child process under a 5 s watchdog. It passes when every input is accepted or rejected with a typed error
// naming the file: no other exception, crash, hang or large allocation. The first input of each distinct
// failure is kept in the target's regression folder, which the tests replay
// (packages/studio/src/fuzz/fuzz.test.ts, packages/server/src/serve/model-file.test.ts). No peer: this
// measures robustness, not speed; inputs per second are printed to size CI runs.
// Usage: npm run bench -- fuzz-parsers [--count N] [--seed S] [--jobs J] [--no-keep]
import { parseArgs } from 'node:util';
import { distinctFailures, runFuzz } from '../packages/studio/src/fuzz/harness.ts';
import { studioTargets } from '../packages/studio/src/fuzz/targets.ts';
import { modelFileTargetRef } from '../packages/server/src/testing/fuzz-model-file.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '125000' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string' },
    'no-keep': { type: 'boolean', default: false },
  },
});
const targets = [...studioTargets, modelFileTargetRef];
const perTarget = Math.ceil(Number(values.count) / targets.length);
const seed = Number(values.seed);
console.log(`${perTarget * targets.length} inputs (${perTarget} per target), seed ${seed}`);

const start = performance.now();
let lastPrint = 0;
const reports = await runFuzz({
  targets,
  count: perTarget,
  seed,
  jobs: values.jobs === undefined ? undefined : Number(values.jobs),
  keep: !values['no-keep'],
  onProgress: (done, total) => {
    if (performance.now() - lastPrint < 10_000) return;
    lastPrint = performance.now();
    console.log(`  ${done} / ${total}`);
  },
});
const seconds = (performance.now() - start) / 1000;

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(
  `\n${'target'.padEnd(22)}${pad('inputs', 9)}${pad('accepted', 10)}${pad('rejected', 10)}${pad('failures', 10)}${pad('slowest ms', 12)}${pad('parser inputs/s', 17)}`,
);
for (const r of reports)
  console.log(
    `${r.target.padEnd(22)}${pad(r.inputs, 9)}${pad(r.accepted, 10)}${pad(r.rejected, 10)}${pad(r.failures.length, 10)}${pad(r.slowestMs.toFixed(1), 12)}${pad((r.inputs / (r.busyMs / 1000)).toFixed(0), 17)}  (slowest: input ${r.slowestInput})`,
  );
const inputs = reports.reduce((n, r) => n + r.inputs, 0);
const failures = reports.flatMap((r) => r.failures);
console.log(
  `\n${inputs} inputs in ${seconds.toFixed(1)} s: ${(inputs / seconds).toFixed(0)} inputs/s; ${failures.length} failures`,
);
for (const { first, count } of distinctFailures(failures)) {
  console.log(
    `  ${first.target} input ${first.input} (and ${count - 1} more like it): ${first.reason}: ${first.message.slice(0, 300)}`,
  );
  if (first.kept) console.log(`    kept as ${first.kept}`);
}
process.exit(failures.length > 0 ? 1 : 0);
