// The model registry: models, their versions (one servable file each) and aliases. Versions are registered
// from ownlm's model folder at start (and again on demand) and by importing a GGUF path. A file that fails the
// hardened GGUF check is reported and skipped, never registered.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { and, desc, eq, max, or } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { modelAliases, models, modelVersions } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { readGgufHeader } from '@ownlm/studio';
import { inspectAdapterFile, inspectModelFile } from '../serve/model-file.ts';
import { quantizationOf } from './quantization.ts';

/** One registered version, with the aliases that point at it. */
export interface RegisteredModel {
  versionId: string;
  /** The model's name; `name:version` names this version. */
  name: string;
  version: number;
  path: string;
  format: string;
  sizeBytes: number;
  sha256: string;
  parameters: number | null;
  quantization: string | null;
  contextLength: number | null;
  chatTemplate: string | null;
  lineage: Record<string, unknown> | null;
  /** `model` is a whole GGUF; `adapter` is a GGUF LoRA adapter, served on `baseVersionId` at run time. */
  kind: 'model' | 'adapter';
  baseVersionId: string | null;
  /** The user it belongs to (made by their job); null for everyone (the model folder, an admin's import). */
  ownerId: string | null;
  createdAt: Date;
  aliases: string[];
}

/** What a version is besides its file: an adapter names its base; lineage given here wins over a sidecar. */
interface VersionOrigin {
  kind: 'model' | 'adapter';
  baseVersionId: string | null;
  lineage: Record<string, unknown> | null;
  ownerId: string | null;
}

export const DEFAULT_ALIAS = 'default';

/** Model names and aliases: what a client may type in `model`, and what can be a file name. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Lineage written beside a model file by the command that made it (`quickstart-f16.gguf.lineage.json`). */
function readLineage(path: string): Record<string, unknown> | null {
  const sidecar = `${path}.lineage.json`;
  if (!existsSync(sidecar)) return null;
  try {
    const value: unknown = JSON.parse(readFileSync(sidecar, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Whether a GGUF says it is an adapter (general.type); unreadable files are left to the model checks. */
function isAdapterFile(path: string): boolean {
  try {
    const type = readGgufHeader(path).metadata.get('general.type');
    return type?.type === 'string' && type.value === 'adapter';
  } catch {
    return false;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class ModelRegistry {
  private readonly db: Database;
  /** ownlm's model folder (`<home>/models`), scanned by `sync`. */
  readonly modelsDir: string;
  private readonly warn: (message: string) => void;

  constructor(db: Database, modelsDir: string, warn: (message: string) => void) {
    this.db = db;
    this.modelsDir = modelsDir;
    this.warn = warn;
  }

  /** Registers every new or changed `*.gguf` in the model folder; returns the versions added. */
  async sync(): Promise<RegisteredModel[]> {
    if (!existsSync(this.modelsDir)) return [];
    const added: RegisteredModel[] = [];
    const files = readdirSync(this.modelsDir)
      .filter((name) => name.endsWith('.gguf'))
      .sort()
      .map((name) => ({
        name,
        path: join(this.modelsDir, name),
        adapter: isAdapterFile(join(this.modelsDir, name)),
      }));
    // Models first, so an adapter beside its base finds the base registered.
    files.sort((a, b) => Number(a.adapter) - Number(b.adapter));
    for (const { name, path, adapter } of files) {
      try {
        const origin = adapter ? await this.adapterOrigin(path) : null;
        const version = await this.register(path, basename(name, '.gguf'), origin);
        if (version) added.push(version);
      } catch (error) {
        this.warn(`model folder: skipped ${path}: ${(error as Error).message}`);
      }
    }
    return added;
  }

  /**
   * An adapter found in the folder is registered only when its `.lineage.json` names its base (`base`: a
   * registered version id, or the path of a registered file): served alone it would be no model at all.
   */
  private async adapterOrigin(path: string): Promise<VersionOrigin> {
    const [known] = await this.db
      .select()
      .from(modelVersions)
      .where(eq(modelVersions.path, path))
      .orderBy(desc(modelVersions.createdAt))
      .limit(1);
    if (known?.kind === 'adapter')
      return {
        kind: 'adapter',
        baseVersionId: known.baseVersionId,
        lineage: known.lineage ?? null,
        ownerId: known.ownerId,
      };
    const lineage = readLineage(path);
    const base = lineage?.base;
    const skip = (why: string) =>
      new AppError(
        'invalid_request',
        `a LoRA adapter (general.type = adapter) ${why}; write {"base": "<version id>"} into ${path}.lineage.json`,
      );
    if (typeof base !== 'string') throw skip('whose base model is not recorded');
    const [row] = await this.db
      .select({ id: modelVersions.id, kind: modelVersions.kind })
      .from(modelVersions)
      .where(or(eq(modelVersions.id, base), eq(modelVersions.path, resolve(this.modelsDir, base))))
      .orderBy(desc(modelVersions.createdAt))
      .limit(1);
    if (!row || row.kind !== 'model') throw skip(`whose base '${base}' is not a registered model`);
    return { kind: 'adapter', baseVersionId: row.id, lineage, ownerId: null };
  }

  /**
   * Registers a GGUF file where it lies, under `name` (default: its file name): an admin's import (for
   * everyone), a quickstart's model, and a fine-tune's merged model (with its lineage, for its owner).
   */
  async importFile(
    path: string,
    options: { name?: string; lineage?: Record<string, unknown>; ownerId?: string | null } = {},
  ): Promise<RegisteredModel> {
    const absolute = this.existingFile(path);
    const modelName = options.name ?? basename(absolute).replace(/\.gguf$/i, '');
    const origin = {
      kind: 'model' as const,
      baseVersionId: null,
      lineage: options.lineage ?? readLineage(absolute),
      ownerId: options.ownerId ?? null,
    };
    const version = await this.register(absolute, modelName, origin);
    return version ?? (await this.versionByPath(absolute));
  }

  /**
   * Registers a GGUF LoRA adapter as a version of kind `adapter` on `baseVersionId` (a whole model), checked
   * against the base's architecture; what a fine-tune produces.
   */
  async registerAdapter(options: {
    path: string;
    name: string;
    baseVersionId: string;
    lineage: Record<string, unknown>;
    /** The user whose job made it. */
    ownerId: string | null;
  }): Promise<RegisteredModel> {
    const absolute = this.existingFile(options.path);
    const base = await this.byVersionId(options.baseVersionId);
    if (base.kind !== 'model')
      throw new AppError(
        'invalid_request',
        `base ${base.versionId} is itself an adapter; an adapter is trained on a whole model`,
        'base',
      );
    const adapter = inspectAdapterFile(absolute);
    const architecture = inspectModelFile(base.path).architecture;
    if (adapter.architecture !== architecture)
      throw new AppError(
        'invalid_request',
        `adapter ${absolute} is for '${adapter.architecture}' models, its base ${base.path} is '${architecture}'`,
        'base',
      );
    const origin = {
      kind: 'adapter' as const,
      baseVersionId: base.versionId,
      lineage: options.lineage,
      ownerId: options.ownerId,
    };
    const version = await this.register(absolute, options.name, origin);
    return version ?? (await this.versionByPath(absolute));
  }

  private existingFile(path: string): string {
    const absolute = resolve(path);
    if (!existsSync(absolute) || !statSync(absolute).isFile())
      throw new AppError('invalid_request', `path: ${absolute} is not a file`, 'path');
    return absolute;
  }

  /**
   * Adds a version for the file unless the same content at the same path is registered already (unchanged files
   * are recognised by size and modification time, so a restart does not hash every model again).
   */
  private async register(
    path: string,
    name: string,
    origin: VersionOrigin | null,
  ): Promise<RegisteredModel | null> {
    if (!NAME.test(name))
      throw new AppError(
        'invalid_request',
        `model name '${name}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
        'name',
      );
    const stat = statSync(path);
    const known = await this.db
      .select()
      .from(modelVersions)
      .where(eq(modelVersions.path, path))
      .orderBy(desc(modelVersions.createdAt));
    if (known.some((v) => v.sizeBytes === stat.size && v.createdAt.getTime() >= stat.mtimeMs)) return null;
    const adapter = origin?.kind === 'adapter';
    if (adapter) inspectAdapterFile(path);
    const file = adapter ? null : inspectModelFile(path);
    const sha256 = await sha256File(path);
    if (known.some((v) => v.sha256 === sha256)) return null;
    const quantization = quantizationOf(path);
    const versionId = newId('mv');
    await this.db.transaction(async (tx) => {
      await tx
        .insert(models)
        .values({ id: newId('m'), name })
        .onConflictDoNothing();
      const [model] = await tx.select().from(models).where(eq(models.name, name));
      const [latest] = await tx
        .select({ version: max(modelVersions.version) })
        .from(modelVersions)
        .where(eq(modelVersions.modelId, model!.id));
      await tx.insert(modelVersions).values({
        id: versionId,
        modelId: model!.id,
        version: (latest?.version ?? 0) + 1,
        path,
        format: 'gguf',
        sizeBytes: stat.size,
        sha256,
        parameters: file?.parameterCount ?? null,
        quantization,
        contextLength: file?.trainContextLength ?? null,
        chatTemplate: file?.chatTemplate ?? null,
        lineage: origin?.lineage ?? readLineage(path),
        kind: origin?.kind ?? 'model',
        baseVersionId: origin?.baseVersionId ?? null,
        ownerId: origin?.ownerId ?? null,
      });
      // The first model for everyone becomes the default; later ones wait to be chosen.
      if (!adapter && !origin?.ownerId)
        await tx.insert(modelAliases).values({ alias: DEFAULT_ALIAS, versionId }).onConflictDoNothing();
    });
    return this.byVersionId(versionId);
  }

  /** Every version, newest model first, then newest version first. */
  async list(): Promise<RegisteredModel[]> {
    const rows = await this.db
      .select({ version: modelVersions, name: models.name })
      .from(modelVersions)
      .innerJoin(models, eq(models.id, modelVersions.modelId))
      .orderBy(models.name, desc(modelVersions.version));
    const aliases = await this.db.select().from(modelAliases);
    return rows.map((row) => toRegistered(row.version, row.name, aliases));
  }

  /**
   * The version a client means: an alias (`default`), `name:version`, a model name (its newest version), or a
   * version id. Unknown names are `model_not_found`.
   */
  async resolve(reference: string): Promise<RegisteredModel> {
    const [alias] = await this.db.select().from(modelAliases).where(eq(modelAliases.alias, reference));
    if (alias) return this.byVersionId(alias.versionId);
    const all = await this.list();
    const colon = reference.lastIndexOf(':');
    const found =
      all.find((m) => m.versionId === reference) ??
      (colon > 0
        ? all.find(
            (m) => m.name === reference.slice(0, colon) && String(m.version) === reference.slice(colon + 1),
          )
        : all.find((m) => m.name === reference));
    if (!found)
      throw new AppError(
        'model_not_found',
        `The model '${reference}' does not exist; GET /v1/models lists the models you can use`,
        'model',
      );
    return found;
  }

  /** The default version, or null when no model is registered yet. */
  async defaultModel(): Promise<RegisteredModel | null> {
    try {
      return await this.resolve(DEFAULT_ALIAS);
    } catch (error) {
      if (error instanceof AppError && error.code === 'model_not_found') return null;
      throw error;
    }
  }

  /** Makes a version everyone's (an admin publishing a user's model). */
  async publish(versionId: string): Promise<RegisteredModel> {
    await this.db.update(modelVersions).set({ ownerId: null }).where(eq(modelVersions.id, versionId));
    return this.byVersionId(versionId);
  }

  /** Points `alias` at a version (creating or moving it); switching back is the same call. */
  async setAlias(alias: string, reference: string): Promise<RegisteredModel> {
    if (!NAME.test(alias))
      throw new AppError(
        'invalid_request',
        `alias '${alias}' must be 1-64 letters, digits, '.', '_' or '-'`,
        'alias',
      );
    const target = await this.resolve(reference);
    if ((await this.list()).some((m) => m.name === alias))
      throw new AppError('conflict', `alias '${alias}' is already a model's name`, 'alias');
    await this.db
      .insert(modelAliases)
      .values({ alias, versionId: target.versionId })
      .onConflictDoUpdate({
        target: modelAliases.alias,
        set: { versionId: target.versionId, updatedAt: new Date() },
      });
    return this.byVersionId(target.versionId);
  }

  async byVersionId(versionId: string): Promise<RegisteredModel> {
    const [row] = await this.db
      .select({ version: modelVersions, name: models.name })
      .from(modelVersions)
      .innerJoin(models, eq(models.id, modelVersions.modelId))
      .where(eq(modelVersions.id, versionId));
    if (!row) throw new AppError('model_not_found', `model version ${versionId} does not exist`, 'model');
    const aliases = await this.db.select().from(modelAliases).where(eq(modelAliases.versionId, versionId));
    return toRegistered(row.version, row.name, aliases);
  }

  private async versionByPath(path: string): Promise<RegisteredModel> {
    const [row] = await this.db
      .select({ id: modelVersions.id })
      .from(modelVersions)
      .where(and(eq(modelVersions.path, path)))
      .orderBy(desc(modelVersions.createdAt))
      .limit(1);
    if (!row) throw new AppError('server_error', `${path} was not registered`);
    return this.byVersionId(row.id);
  }
}

function toRegistered(
  v: typeof modelVersions.$inferSelect,
  name: string,
  aliases: (typeof modelAliases.$inferSelect)[],
): RegisteredModel {
  return {
    versionId: v.id,
    name,
    version: v.version,
    path: v.path,
    format: v.format,
    sizeBytes: v.sizeBytes,
    sha256: v.sha256,
    parameters: v.parameters,
    quantization: v.quantization,
    contextLength: v.contextLength,
    chatTemplate: v.chatTemplate,
    lineage: v.lineage ?? null,
    kind: v.kind,
    baseVersionId: v.baseVersionId,
    ownerId: v.ownerId,
    createdAt: v.createdAt,
    aliases: aliases.filter((a) => a.versionId === v.id).map((a) => a.alias),
  };
}
