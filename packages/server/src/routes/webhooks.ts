// The signed-in user's webhook endpoints for job events and their delivery log (STUDIO-API.md).
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { createWebhook, deleteWebhook, listDeliveries, listWebhooks } from '../webhooks/webhooks.ts';

export function webhookRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/webhooks', access('user'), async (request) => ({
      webhooks: await listWebhooks({ ctx, actor: actorOf(request) }),
    }));
    app.post('/webhooks', access('user'), async (request, reply) => {
      const actor = actorOf(request);
      const body = (request.body ?? {}) as { url?: unknown; events?: unknown };
      return reply.status(201).send(await createWebhook({ ctx, actor, url: body.url, events: body.events }));
    });
    app.delete<{ Params: { id: string } }>('/webhooks/:id', access('user'), async (request, reply) => {
      await deleteWebhook({ ctx, actor: actorOf(request), webhookId: request.params.id });
      return reply.status(204).send();
    });
    app.get<{ Params: { id: string } }>('/webhooks/:id/deliveries', access('user'), async (request) => ({
      deliveries: await listDeliveries({
        ctx,
        actor: actorOf(request),
        webhookId: request.params.id,
      }),
    }));
  };
}
