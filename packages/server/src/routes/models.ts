// The model registry for the web app: the models the user may use (with the default), and for admins: import a
// GGUF by path, rescan the model folder, point an alias at a version, publish a user's model to everyone.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { importModel, listModels, publishModel, rescanModels, setModelAlias } from '../registry/models.ts';

function stringField(body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || value === '')
    throw new AppError('invalid_request', `${field} must be a non-empty string`, field);
  return value;
}

export function modelRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/models', access('user'), async (request) => listModels({ ctx, actor: actorOf(request) }));
    app.post('/models/import', access('admin'), async (request, reply) => {
      const body = request.body as Record<string, unknown> | null;
      const name = body?.name === undefined ? undefined : stringField(body, 'name');
      const model = await importModel({
        ctx,
        actor: actorOf(request),
        path: stringField(body, 'path'),
        name,
      });
      return reply.status(201).send(model);
    });
    app.post('/models/rescan', access('admin'), async (request) => ({
      added: await rescanModels({ ctx, actor: actorOf(request) }),
    }));
    app.post<{ Params: { id: string } }>('/models/:id/publish', access('admin'), async (request) =>
      publishModel({ ctx, actor: actorOf(request), versionId: request.params.id }),
    );
    app.put<{ Params: { alias: string } }>('/models/aliases/:alias', access('admin'), async (request) =>
      setModelAlias({
        ctx,
        actor: actorOf(request),
        alias: request.params.alias,
        target: stringField(request.body, 'target'),
      }),
    );
  };
}
