// The signed-in user's API keys: list, create with scopes (the secret is in this one response only), revoke.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.ts';
import type { AppContext } from '../context.ts';

export function keyRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/keys', access('user'), async (request) => ({
      keys: await listApiKeys({ ctx, actor: actorOf(request) }),
    }));
    app.post('/keys', access('user'), async (request, reply) => {
      const { name, scopes } = (request.body ?? {}) as { name?: unknown; scopes?: unknown };
      return reply.status(201).send(await createApiKey({ ctx, actor: actorOf(request), name, scopes }));
    });
    app.delete<{ Params: { id: string } }>('/keys/:id', access('user'), async (request, reply) => {
      await revokeApiKey({ ctx, actor: actorOf(request), keyId: request.params.id });
      return reply.status(204).send();
    });
  };
}
