// Job reports (fine-tune, red-team) for their owner: `GET /api/reports/:id` as JSON, `:id.md` and `:id.html` as
// downloads.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { getReport, renderReport } from '../reports/reports.ts';

const TYPES = { md: 'text/markdown; charset=utf-8', html: 'text/html; charset=utf-8' } as const;

export function reportRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // One route for the three forms: report ids never contain a dot.
    app.get<{ Params: { file: string } }>('/reports/:file', access('user'), async (request, reply) => {
      const actor = actorOf(request);
      const [, reportId, extension] = /^([^.]*)(?:\.(md|html))?$/.exec(request.params.file) ?? [];
      const found = await getReport({ ctx, actor, reportId: reportId ?? request.params.file });
      if (extension !== 'md' && extension !== 'html') return { report: found.report };
      const name = found.kind === 'redteam' ? 'redteam-report' : 'report';
      return reply
        .type(TYPES[extension])
        .header('content-disposition', `attachment; filename="${name}-${found.id}.${extension}"`)
        .send(renderReport(found, extension));
    });
  };
}
