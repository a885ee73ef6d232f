// /api/quickstart: the first-run quickstart for any signed-in user — its status, a start button, and its
// progress as Server-Sent Events (`quickstart-progress`, the whole status each time).
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import type { QuickstartJob, QuickstartStatus } from '../quickstart/job.ts';

const heartbeatMs = 15_000;

/** Routes relative to the prefix `/api/quickstart`: `GET /`, `POST /` (202, or 409 while running), `GET /events`. */
export function quickstartRoutes(job: QuickstartJob): FastifyPluginAsync {
  return async (app) => {
    // Open event streams never end by themselves; they are ended before the server closes, so it can.
    const streams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of streams) end();
    });

    app.get('/', access('user'), async (): Promise<QuickstartStatus> => job.status());

    app.post('/', access('user'), async (_request, reply) => {
      job.start();
      return reply.code(202).send(job.status());
    });

    app.get('/events', access('user'), async (request, reply) => {
      reply.hijack();
      const response = reply.raw;
      // Headers set by hooks (security headers) still apply to the hijacked response.
      for (const [name, value] of Object.entries(reply.getHeaders()))
        if (value !== undefined) response.setHeader(name, value);
      response.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      const send = (status: QuickstartStatus) =>
        response.write(`event: quickstart-progress\ndata: ${JSON.stringify(status)}\n\n`);
      send(job.status());
      const unsubscribe = job.subscribe(send);
      const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), heartbeatMs);
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(end);
        response.end();
      };
      streams.add(end);
      request.raw.on('close', end);
      response.on('close', end);
    });
  };
}
