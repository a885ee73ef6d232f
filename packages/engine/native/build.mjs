// Builds the native addon with node-gyp at install time. A machine without a compiler still installs:
// the engine then falls back to the TypeScript reference backend and says so once at load.
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeGyp = process.env.npm_config_node_gyp;
const [command, args] = nodeGyp
  ? [process.execPath, [nodeGyp, 'rebuild', '--jobs=max']]
  : ['npx', ['--yes', 'node-gyp', 'rebuild', '--jobs=max']];
const result = spawnSync(command, args, { cwd: here, stdio: 'inherit' });
if (result.status !== 0) {
  console.warn(
    'ownlm: the native addon did not build; the engine will use the slow TypeScript reference backend.',
  );
}
