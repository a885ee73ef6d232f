// The registry as actors use it. A version belongs to everyone (the model folder, an admin's import or
// publication) or to the user whose job made it; another user's is `model_not_found` exactly like a missing
// one, and its lineage (which names a dataset) is shown only to whoever may see that dataset. Admins see every
// version and run the registry: import a GGUF by path, rescan the model folder, point aliases, publish.
import { and, eq, inArray } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import { requireAdmin } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { datasets } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { DEFAULT_ALIAS, type RegisteredModel } from './registry.ts';

export interface ModelView {
  id: string;
  name: string;
  version: string;
  format: string;
  sizeBytes: number;
  parameters: number | null;
  quantization: string | null;
  contextLength: number | null;
  aliases: string[];
  lineage: Record<string, unknown> | null;
  kind: 'model' | 'adapter';
  baseVersionId: string | null;
  /** Whether it is the whole platform's (true) or its owner's alone. */
  shared: boolean;
  createdAt: Date;
}

const modelView = (m: RegisteredModel, lineageShown: boolean): ModelView => ({
  id: m.versionId,
  name: m.name,
  version: String(m.version),
  format: m.format,
  sizeBytes: m.sizeBytes,
  parameters: m.parameters,
  quantization: m.quantization,
  contextLength: m.contextLength,
  aliases: m.aliases,
  lineage: lineageShown ? m.lineage : null,
  kind: m.kind,
  baseVersionId: m.baseVersionId,
  shared: m.ownerId === null,
  createdAt: m.createdAt,
});

/** Whether the actor may use a version: everyone's, their own, or any for an admin. */
export const visibleTo = (actor: Actor, model: RegisteredModel) =>
  model.ownerId === null || model.ownerId === actor.userId || actor.role === 'admin';

const notFound = (reference: string) =>
  new AppError(
    'model_not_found',
    `The model '${reference}' does not exist; GET /v1/models lists the models you can use`,
    'model',
  );

/** The version the actor means (alias, `name:version`, name or version id), among those they may use. */
export async function resolveModel(options: {
  ctx: AppContext;
  actor: Actor;
  reference: string;
}): Promise<RegisteredModel> {
  const model = await options.ctx.registry.resolve(options.reference);
  if (!visibleTo(options.actor, model)) throw notFound(options.reference);
  return model;
}

/** The default version, when there is one the actor may use. */
export async function defaultModelFor(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<RegisteredModel | null> {
  const model = await options.ctx.registry.defaultModel();
  return model && visibleTo(options.actor, model) ? model : null;
}

/** Every version the actor may use, newest model first. */
export async function usableModels(options: { ctx: AppContext; actor: Actor }): Promise<RegisteredModel[]> {
  return (await options.ctx.registry.list()).filter((m) => visibleTo(options.actor, m));
}

/** The ids of the datasets, among those the versions' lineage names, that belong to the actor. */
async function ownDatasetIds(ctx: AppContext, actor: Actor, models: RegisteredModel[]): Promise<Set<string>> {
  const named = models.map((m) => m.lineage?.dataset).filter((id): id is string => typeof id === 'string');
  if (named.length === 0) return new Set();
  const rows = await ctx.db
    .select({ id: datasets.id })
    .from(datasets)
    .where(and(inArray(datasets.id, named), eq(datasets.userId, actor.userId)));
  return new Set(rows.map((row) => row.id));
}

/** Views of the versions; a lineage that names a dataset only for the dataset's owner. */
async function modelViews(ctx: AppContext, actor: Actor, models: RegisteredModel[]): Promise<ModelView[]> {
  const own = await ownDatasetIds(ctx, actor, models);
  return models.map((m) => {
    const dataset = m.lineage?.dataset;
    return modelView(m, typeof dataset !== 'string' || own.has(dataset));
  });
}

export async function listModels(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<{ models: ModelView[]; default: string | null }> {
  const [usable, fallback] = await Promise.all([usableModels(options), defaultModelFor(options)]);
  return {
    models: await modelViews(options.ctx, options.actor, usable),
    default: fallback?.versionId ?? null,
  };
}

/** One version the actor may use, as the models page shows it. */
async function viewOf(ctx: AppContext, actor: Actor, model: RegisteredModel): Promise<ModelView> {
  return (await modelViews(ctx, actor, [model]))[0]!;
}

export async function importModel(options: {
  ctx: AppContext;
  actor: Actor;
  path: string;
  name?: string;
}): Promise<ModelView> {
  requireAdmin(options.actor, 'import models');
  const { ctx, actor } = options;
  return viewOf(ctx, actor, await ctx.registry.importFile(options.path, { name: options.name }));
}

/** Registers the new or changed files of the model folder; returns the versions added. */
export async function rescanModels(options: { ctx: AppContext; actor: Actor }): Promise<ModelView[]> {
  requireAdmin(options.actor, 'rescan the model folder');
  return modelViews(options.ctx, options.actor, await options.ctx.registry.sync());
}

export async function setModelAlias(options: {
  ctx: AppContext;
  actor: Actor;
  alias: string;
  target: string;
}): Promise<ModelView> {
  requireAdmin(options.actor, 'point aliases at models');
  if (options.alias === DEFAULT_ALIAS) {
    const target = await options.ctx.registry.resolve(options.target);
    if (target.ownerId !== null)
      throw new AppError(
        'invalid_request',
        `'${options.target}' belongs to one user; publish it before making it everyone's default`,
        'target',
      );
  }
  const { ctx, actor } = options;
  return viewOf(ctx, actor, await ctx.registry.setAlias(options.alias, options.target));
}

/** Makes a user's version everyone's (admins only); its lineage stays with whoever may see its dataset. */
export async function publishModel(options: {
  ctx: AppContext;
  actor: Actor;
  versionId: string;
}): Promise<ModelView> {
  requireAdmin(options.actor, 'publish models');
  const { ctx, actor } = options;
  const model = await ctx.registry.byVersionId(options.versionId);
  if (model.kind === 'adapter') {
    const base = await ctx.registry.byVersionId(model.baseVersionId!);
    if (base.ownerId !== null)
      throw new AppError(
        'invalid_request',
        `publish its base ${base.name}:${base.version} first`,
        'versionId',
      );
  }
  return viewOf(ctx, actor, await ctx.registry.publish(model.versionId));
}
