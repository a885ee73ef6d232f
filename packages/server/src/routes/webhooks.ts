// The signed-in user's webhook endpoints for job events and their delivery log (STUDIO-API.md).
import type { FastifyPluginAsync } from 'fastify';
import { requireActor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { createWebhook, deleteWebhook, listDeliveries, listWebhooks } from '../webhooks/webhooks.ts';

export function webhookRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/webhooks', async (request) => ({
      webhooks: await listWebhooks({ db: ctx.db, actor: requireActor(request) }),
    }));
    app.post('/webhooks', async (request, reply) => {
      const actor = requireActor(request);
      const body = (request.body ?? {}) as { url?: unknown; events?: unknown };
      return reply
        .status(201)
        .send(await createWebhook({ db: ctx.db, actor, url: body.url, events: body.events }));
    });
    app.delete<{ Params: { id: string } }>('/webhooks/:id', async (request, reply) => {
      await deleteWebhook({ db: ctx.db, actor: requireActor(request), webhookId: request.params.id });
      return reply.status(204).send();
    });
    app.get<{ Params: { id: string } }>('/webhooks/:id/deliveries', async (request) => ({
      deliveries: await listDeliveries({
        db: ctx.db,
        actor: requireActor(request),
        webhookId: request.params.id,
      }),
    }));
  };
}
