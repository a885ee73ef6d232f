// `npm start`: installs and builds when needed, then runs the main job — `ownlm quickstart` on the bundled
// corpus (which only says where the model is when it was trained before). Extra arguments go to the command:
// `npm start -- --steps 1000`.
import { spawnSync } from 'node:child_process';
import { ensureInstalled } from './ensure-installed.mjs';

ensureInstalled();
const cli = new URL('../packages/cli/bin/ownlm.mjs', import.meta.url).pathname;
const result = spawnSync(process.execPath, [cli, 'quickstart', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
