// `ownlm-server` / `npm start`: validates the configuration, opens the platform and listens; SIGINT/SIGTERM
// shut it down gracefully (running answers are cancelled and saved, the database closed).
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@ownlm/studio';
import { buildApp } from './app.ts';
import { configUsage, describeConfig, loadConfig } from './config.ts';

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(
      `usage: npm start -- [options]   (or packages/server/bin/ownlm-server.mjs [options])\n\n${configUsage}`,
    );
    return 0;
  }
  let config;
  try {
    config = loadConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ownlm server: ${error.message}`);
      return 2;
    }
    throw error;
  }
  console.log(`ownlm server\n${describeConfig(config)}`);
  const app = await buildApp(config);
  await app.listen({ host: config.host, port: config.port });
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const { port } = app.server.address() as AddressInfo;
  console.log(`\nOpen http://${shown}:${port} in a browser (Ctrl+C stops the server).`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: finishing…`);
      app.close().then(resolve, (error: unknown) => {
        console.error(error);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
