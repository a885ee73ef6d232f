// The model registry for the web app: the list (with the default), and for admins: import a GGUF by path,
// rescan the model folder, point an alias at a version.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { requireActor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { RegisteredModel } from '../registry/registry.ts';

const view = (m: RegisteredModel) => ({
  id: m.versionId,
  name: m.name,
  version: String(m.version),
  format: m.format,
  sizeBytes: m.sizeBytes,
  parameters: m.parameters,
  quantization: m.quantization,
  contextLength: m.contextLength,
  aliases: m.aliases,
  lineage: m.lineage,
  kind: m.kind,
  baseVersionId: m.baseVersionId,
  createdAt: m.createdAt,
});

function requireAdmin(request: FastifyRequest): void {
  if (requireActor(request).role !== 'admin')
    throw new AppError('forbidden', 'only an admin can change models');
}

function stringField(body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || value === '')
    throw new AppError('invalid_request', `${field} must be a non-empty string`, field);
  return value;
}

export function modelRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/models', async (request) => {
      requireActor(request);
      const [all, fallback] = await Promise.all([ctx.registry.list(), ctx.registry.defaultModel()]);
      return { models: all.map(view), default: fallback?.versionId ?? null };
    });
    app.post('/models/import', async (request, reply) => {
      requireAdmin(request);
      const body = request.body as Record<string, unknown> | null;
      const name = body?.name === undefined ? undefined : stringField(body, 'name');
      return reply.status(201).send(view(await ctx.registry.importFile(stringField(body, 'path'), name)));
    });
    app.post('/models/rescan', async (request) => {
      requireAdmin(request);
      return { added: (await ctx.registry.sync()).map(view) };
    });
    app.put<{ Params: { alias: string } }>('/models/aliases/:alias', async (request) => {
      requireAdmin(request);
      return view(await ctx.registry.setAlias(request.params.alias, stringField(request.body, 'target')));
    });
  };
}
