// The signed-in user's in-app notifications (a job ended): list with the unread count, mark read.
import type { FastifyPluginAsync } from 'fastify';
import { requireActor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { listNotifications, markNotificationsRead } from '../notifications/notifications.ts';

export function notificationRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/notifications', async (request) =>
      listNotifications({ db: ctx.db, actor: requireActor(request) }),
    );
    app.post('/notifications/read', async (request) =>
      markNotificationsRead({
        db: ctx.db,
        actor: requireActor(request),
        ids: (request.body as { ids?: unknown } | null)?.ids,
      }),
    );
  };
}
