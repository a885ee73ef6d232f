// `npm start`: installs and builds when needed, then runs the main job — `ownlm demo` on the bundled corpus.
// Extra arguments go to the command: `npm start -- --steps 1000`.
import { spawnSync } from 'node:child_process';
import { ensureInstalled } from './ensure-installed.mjs';

ensureInstalled();
const cli = new URL('../packages/cli/bin/ownlm.mjs', import.meta.url).pathname;
const result = spawnSync(process.execPath, [cli, 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
