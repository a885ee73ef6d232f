// Shared setup of the browser tests: Debian's chromium for playwright-core, and the real server started
// in-process on a temporary data folder with the tiny model as its only model.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildApp } from '../../packages/server/src/app.ts';
import type { ServerConfig } from '../../packages/server/src/config.ts';
import { tinyModel } from '../../packages/server/src/testing/tiny-model.ts';

export const chromiumPath = '/usr/bin/chromium';
export const screenshots = new URL('../../test-results/screenshots/', import.meta.url).pathname;

/** Debian's chromium, installed with apt when missing (browsers cannot be downloaded here). */
export function ensureChromium(): void {
  if (existsSync(chromiumPath)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit', env }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (install() !== 0) throw new Error('could not install chromium with apt-get');
  }
}

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** The real server in this process, on a free loopback port, with its data folder in `home` holding the tiny
 * model (vocabulary 384, context 64) as its only model; `config` overrides the server's defaults. */
export async function startTestServer(home: string, config: Partial<ServerConfig> = {}): Promise<TestServer> {
  const { gguf } = await tinyModel();
  mkdirSync(join(home, 'models'), { recursive: true });
  copyFileSync(gguf, join(home, 'models', 'tiny.gguf'));
  const app = await buildApp({ ...config, home, logLevel: 'warn' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
