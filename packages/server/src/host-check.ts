// Refuses requests addressed to a host name this server does not answer to, before routing. A web page on an
// attacker's name that re-resolves to this server (DNS rebinding) reaches it with that name in `Host`; an IP
// address, `localhost`, the public URL's host and the configured names are the only ones answered
// (docs/ARCHITECTURE.md#access).
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.ts';
import { AppError } from './errors.ts';

/** Whether a request's host name (no port; brackets allowed around IPv6) is one this server answers to. */
export function hostAllowed(
  config: Pick<ServerConfig, 'publicUrl' | 'allowedHosts'>,
): (host: string) => boolean {
  const names = new Set(['localhost', ...config.allowedHosts]);
  if (config.publicUrl !== null) names.add(new URL(config.publicUrl).hostname);
  return (host) => {
    const name = host
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1')
      .replace(/\.$/, '');
    // A rebinding page always comes by a name; an address in Host is one the browser connected to itself.
    return isIP(name) !== 0 || names.has(name);
  };
}

export function registerHostCheck(app: FastifyInstance, config: ServerConfig): void {
  const allowed = hostAllowed(config);
  app.addHook('onRequest', async (request) => {
    if (!allowed(request.hostname))
      throw new AppError(
        'misdirected',
        `this server does not answer to the host '${request.hostname}'; its admin can add the name with --allowed-hosts or --public-url`,
      );
  });
}
