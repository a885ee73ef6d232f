// The signed-in user's API keys: list, create (the secret is in this one response only), revoke.
import type { FastifyPluginAsync } from 'fastify';
import { requireActor } from '../auth/actor.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';

export function keyRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/keys', async (request) => ({ keys: await listApiKeys(ctx.db, requireActor(request).userId) }));
    app.post('/keys', async (request, reply) => {
      const actor = requireActor(request);
      const raw = (request.body as { name?: unknown } | null)?.name ?? 'API key';
      if (typeof raw !== 'string' || raw.trim().length === 0 || raw.length > 100)
        throw new AppError('invalid_request', 'name must be a string of 1 to 100 characters', 'name');
      return reply.status(201).send(await createApiKey(ctx.db, actor.userId, raw.trim()));
    });
    app.delete<{ Params: { id: string } }>('/keys/:id', async (request, reply) => {
      await revokeApiKey(ctx.db, requireActor(request).userId, request.params.id);
      return reply.status(204).send();
    });
  };
}
