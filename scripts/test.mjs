// `npm test`: installs and builds when needed, checks types and lint, runs every *.test.ts with node's test
// runner, and ends with the line `N passed, N failed` that CI reads.
// Usage: npm test [-- FILTER...]   (FILTER: substrings of test file paths)
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureInstalled } from './ensure-installed.mjs';

const root = new URL('..', import.meta.url).pathname;
ensureInstalled();

const filters = process.argv.slice(2);
const skipDirs = new Set(['node_modules', 'build', '.git', 'dist']);

function findTests(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipDirs.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

let passed = 0;
let failed = 0;

function check(name, command, args) {
  console.log(`\n▶ ${name}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status === 0) passed += 1;
  else {
    failed += 1;
    console.log(`✖ ${name} failed`);
  }
}

if (filters.length === 0) {
  check('typecheck (tsc)', 'npx', ['tsc', '-p', 'tsconfig.json']);
  check('typecheck (web)', 'npx', ['tsc', '-p', 'packages/web/tsconfig.json']);
  check('lint (eslint)', 'npx', ['eslint', '.']);
  check('format (prettier)', 'npx', ['prettier', '--check', '.', '--log-level', 'warn']);
}

const files = ['packages', 'test', 'bench']
  .flatMap((dir) => {
    try {
      return findTests(join(root, dir));
    } catch {
      return [];
    }
  })
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

const summaryFile = join(tmpdir(), `ownlm-test-summary-${process.pid}.json`);
const run = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    `--test-reporter-destination=${summaryFile}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, OWNLM_TEST: '1' } },
);
try {
  const counts = JSON.parse(readFileSync(summaryFile, 'utf8'));
  passed += counts.passed;
  failed += counts.failed;
  rmSync(summaryFile);
} catch {
  failed += 1;
  console.log('✖ the test runner produced no summary');
}
if (run.status !== 0 && failed === 0) failed += 1;

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
