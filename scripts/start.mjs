// `npm start`: installs and builds when needed, then starts the platform — the web app and the OpenAI-compatible
// API on http://127.0.0.1:8080, with its data in .ownlm (embedded PostgreSQL, models). With no model yet, the web
// app offers to run the quickstart training. Extra arguments go to the server: `npm start -- --port 3000`.
import { spawnSync } from 'node:child_process';
import { ensureInstalled } from './ensure-installed.mjs';

ensureInstalled();
const server = new URL('../packages/server/bin/ownlm-server.mjs', import.meta.url).pathname;
const result = spawnSync(process.execPath, [server, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
