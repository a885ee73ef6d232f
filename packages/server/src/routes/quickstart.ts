// /api/quickstart: the first-run quickstart job — its status and progress as Server-Sent Events
// (`quickstart-progress`, the whole status each time it changes) for any signed-in user, its start for admins.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { openEventStream } from '../event-stream.ts';
import {
  latestQuickstart,
  quickstartStatus,
  startQuickstart,
  type QuickstartStatus,
} from '../jobs/quickstart.ts';

/**
 * Routes relative to the prefix `/api/quickstart`: `GET /`, `POST /` with an optional `{params}` (202, or 409
 * while one runs), `GET /events`.
 */
export function quickstartRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // Open event streams never end by themselves; they are ended before the server closes, so it can.
    const openStreams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const close of openStreams) close();
    });

    app.get('/', access('user'), async () => quickstartStatus(await latestQuickstart(ctx)));

    app.post('/', access('admin'), async (request, reply) => {
      const params = (request.body as { params?: unknown } | null)?.params;
      const job = await startQuickstart({ ctx, actor: actorOf(request), params });
      return reply.code(202).send(quickstartStatus(job));
    });

    app.get('/events', access('user'), async (_request, reply) => {
      const stream = openEventStream(reply);
      let last = '';
      const send = (status: QuickstartStatus) => {
        const text = JSON.stringify(status);
        if (text === last) return;
        last = text;
        void stream.send('quickstart-progress', status);
      };
      // Changes that arrive while the current status is read are sent after it, so the last one sent is current.
      let pending: QuickstartStatus[] | null = [];
      const unsubscribe = ctx.jobHub.subscribe((change) => {
        if (change.job.type !== 'quickstart') return;
        const status = quickstartStatus(change.job);
        if (pending) pending.push(status);
        else send(status);
      });
      const close = () => {
        unsubscribe();
        openStreams.delete(close);
        stream.end();
      };
      openStreams.add(close);
      reply.raw.on('close', close);
      send(quickstartStatus(await latestQuickstart(ctx)));
      for (const status of pending) send(status);
      pending = null;
    });
  };
}
