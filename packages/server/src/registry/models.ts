// The registry as actors use it: the list with the default for any user, and the admin's operations (import a
// GGUF by path, rescan the model folder, point an alias at a version), each checking the actor's role.
import type { Actor } from '../auth/actor.ts';
import { requireAdmin } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { RegisteredModel } from './registry.ts';

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
  createdAt: Date;
}

export const modelView = (m: RegisteredModel): ModelView => ({
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

export async function listModels(options: {
  ctx: AppContext;
  actor: Actor;
}): Promise<{ models: ModelView[]; default: string | null }> {
  const { registry } = options.ctx;
  const [all, fallback] = await Promise.all([registry.list(), registry.defaultModel()]);
  return { models: all.map(modelView), default: fallback?.versionId ?? null };
}

export async function importModel(options: {
  ctx: AppContext;
  actor: Actor;
  path: string;
  name?: string;
}): Promise<ModelView> {
  requireAdmin(options.actor, 'import models');
  return modelView(await options.ctx.registry.importFile(options.path, options.name));
}

/** Registers the new or changed files of the model folder; returns the versions added. */
export async function rescanModels(options: { ctx: AppContext; actor: Actor }): Promise<ModelView[]> {
  requireAdmin(options.actor, 'rescan the model folder');
  return (await options.ctx.registry.sync()).map(modelView);
}

export async function setModelAlias(options: {
  ctx: AppContext;
  actor: Actor;
  alias: string;
  target: string;
}): Promise<ModelView> {
  requireAdmin(options.actor, 'point aliases at models');
  return modelView(await options.ctx.registry.setAlias(options.alias, options.target));
}
