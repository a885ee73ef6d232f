// Installs dependencies and builds the native addon when node_modules is missing or older than the lockfile, and
// builds the web app when its sources are newer than its build, so `npm start` and `npm test` work on a fresh
// clone with no other step.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** The newest modification time under a path (a file or a folder, recursively); 0 when it does not exist. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => !entry.name.endsWith('.test.ts'))
    .reduce((latest, entry) => Math.max(latest, newest(join(path, entry.name))), 0);
}

/** Builds packages/web into packages/web/dist (served by the server) unless the build is newer than its sources. */
export function ensureWebBuilt() {
  const web = join(root, 'packages', 'web');
  const inputs = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'].map((p) => join(web, p));
  const latestInput = Math.max(...inputs.map(newest), mtime(join(root, 'package-lock.json')));
  if (latestInput <= mtime(join(web, 'dist', 'index.html'))) return;
  console.log('ownlm: building the web app…');
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: web,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('ownlm: building the web app failed; see the output above.');
    process.exit(result.status ?? 1);
  }
}

export function ensureInstalled() {
  installDependencies();
  ensureWebBuilt();
}

function installDependencies() {
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
