// The signed-in user's in-app notifications (a job ended): list with the unread count, mark read.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { listNotifications, markNotificationsRead } from '../notifications/notifications.ts';

export function notificationRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/notifications', access('user'), async (request) =>
      listNotifications({ ctx, actor: actorOf(request) }),
    );
    app.post('/notifications/read', access('user'), async (request) =>
      markNotificationsRead({
        ctx,
        actor: actorOf(request),
        ids: (request.body as { ids?: unknown } | null)?.ids,
      }),
    );
  };
}
