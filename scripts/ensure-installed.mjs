// Installs dependencies and builds the native addon when node_modules is missing or older than the lockfile,
// so `npm start` and `npm test` work on a fresh clone with no other step.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const stale =
    !existsSync(marker) ||
    mtime(join(root, 'package-lock.json')) > mtime(marker) ||
    mtime(join(root, 'package.json')) > mtime(marker);
  if (!stale) return;
  console.log('ownlm: installing dependencies and building the native addon (first run only)…');
  const lock = existsSync(join(root, 'package-lock.json'));
  const result = spawnSync('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('ownlm: npm install failed; see the output above.');
    process.exit(result.status ?? 1);
  }
}
