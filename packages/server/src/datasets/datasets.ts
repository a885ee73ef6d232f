// Conversation datasets of a user: uploaded JSONL (OpenAI chat, ShareGPT, Alpaca) or synthesized, stored as the
// studio writes them in `<home>/datasets/<id>/` with a row in `datasets`. Rejected lines are kept and shown,
// never dropped silently. Every function takes the actor and finds datasets only among the actor's own. A
// dataset's file is parsed and stored in the app's worker threads (./upload.ts) and its texts counted in the
// runtime's tokenizer process, so a large one never holds the event loop; previews read one page (./line-index.ts).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import {
  DataError,
  datasetFiles,
  importConversations,
  synthesizeConversations,
  toJsonLine,
  type Conversation,
  type ConversationFormat,
  type ConversationGenerator,
  type DatasetStats,
  type RejectedLine,
} from '@ownlm/studio';
import { and, desc, eq } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { datasets } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { defaultModelFor, resolveModel } from '../registry/models.ts';
import { newId } from '../ids.ts';
import { outboundUrl } from '../outbound/outbound.ts';
import { runInThread } from '../threads.ts';
import { readLines, writeLineIndex } from './line-index.ts';

/** STUDIO-API.md `dataset`. */
export interface DatasetView {
  id: string;
  name: string;
  sourceFormat: string;
  conversations: number;
  trainConversations: number;
  validationConversations: number;
  stats: DatasetStats & { tokenizerModel?: string };
  rejected: RejectedLine[];
  rejectedCount: number;
  createdAt: Date;
}

/** What the row's `stats` holds: the studio's statistics and the split's sizes. */
type StoredStats = DatasetStats & { tokenizerModel?: string; split: { train: number; validation: number } };

/** Rejected lines kept in the row (the dataset folder's dataset.json has them all). */
const STORED_REJECTIONS = 1000;
const FORMATS = ['auto', 'openai', 'sharegpt', 'alpaca'] as const;

/** A file without one valid conversation: a 400 whose body also carries every rejected line. */
export class DatasetRejectedError extends AppError {
  readonly rejected: RejectedLine[];

  constructor(file: string, rejected: RejectedLine[]) {
    const first = rejected
      .slice(0, 5)
      .map((r) => `line ${r.line}: ${r.field ? `${r.field}: ` : ''}${r.message}`)
      .join('; ');
    super(
      'invalid_request',
      rejected.length === 0
        ? `${file} holds no conversation; upload JSONL with one conversation per line`
        : `${file} holds no valid conversation; ${rejected.length} line(s) rejected: ${first}${rejected.length > 5 ? '; …' : ''}`,
      'body',
    );
    this.rejected = rejected;
  }
}

function view(row: typeof datasets.$inferSelect): DatasetView {
  const { split, ...stats } = row.stats as unknown as StoredStats;
  return {
    id: row.id,
    name: row.name,
    sourceFormat: row.sourceFormat,
    conversations: row.conversations,
    trainConversations: split.train,
    validationConversations: split.validation,
    stats,
    rejected: row.rejected,
    rejectedCount: row.rejectedCount,
    createdAt: row.createdAt,
  };
}

export function validateDatasetName(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '' || raw.length > 100)
    throw new AppError('invalid_request', 'name must be a string of 1 to 100 characters', 'name');
  return raw.trim();
}

export function validateFormat(raw: unknown): ConversationFormat | 'auto' {
  if (raw === undefined) return 'auto';
  if (!FORMATS.includes(raw as (typeof FORMATS)[number]))
    throw new AppError('invalid_request', `format must be one of ${FORMATS.join(', ')}`, 'format');
  return raw as ConversationFormat | 'auto';
}

/** The validation share: a number in [0, 0.9], from JSON or a query string; default 0.1. */
export function validateValidationFraction(raw: unknown): number {
  if (raw === undefined) return 0.1;
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !(value >= 0 && value <= 0.9))
    throw new AppError(
      'invalid_request',
      'validation must be a number from 0 to 0.9 (the held-out share)',
      'validation',
    );
  return value;
}

/** Where a dataset's file waits while it is stored: an upload's body, synthesized conversations. */
const uploadsDirectory = (home: string) => join(home, 'uploads');

function pendingFile(ctx: AppContext): string {
  return join(uploadsDirectory(ctx.config.home), `${randomBytes(12).toString('hex')}.jsonl`);
}

/**
 * Removes the files of `<home>/uploads` last written before `startedAt`: a server that stopped while storing a
 * dataset left its file there. Files written since belong to a server running on the same home now.
 */
export async function removeInterruptedUploads(home: string, startedAt: Date): Promise<void> {
  const folder = uploadsDirectory(home);
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = join(folder, entry.name);
    if ((await lstat(file)).mtime < startedAt) await rm(file, { force: true });
  }
}

/**
 * Writes an upload's body to a file as it arrives, refusing it (`payload_too_large`) past `limitBytes`; the
 * caller removes the file once the dataset is stored.
 */
export async function receiveDatasetFile(
  ctx: AppContext,
  body: Readable,
  limitBytes: number,
): Promise<string> {
  await mkdir(uploadsDirectory(ctx.config.home), { recursive: true });
  const file = pendingFile(ctx);
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received <= limitBytes) return done(null, chunk);
      done(
        new AppError(
          'payload_too_large',
          `the dataset is larger than this server accepts (${limitBytes / 2 ** 20} MB, --dataset-limit-mb)`,
        ),
      );
    },
  });
  const out = createWriteStream(file, { flags: 'wx' });
  try {
    await new Promise<void>((resolve, reject) => {
      for (const stream of [body, limiter, out]) stream.once('error', reject);
      body.once('close', () => {
        if (!body.readableEnded)
          reject(new AppError('invalid_request', 'the upload ended before its body did'));
      });
      out.once('finish', resolve);
      // pipe, not pipeline: a refused body is left unread, not destroyed, so the refusal can still be answered.
      body.pipe(limiter).pipe(out);
    });
  } catch (error) {
    out.destroy();
    await rm(file, { force: true });
    throw error;
  }
  return file;
}

/**
 * Stores a JSONL file as a new dataset of the actor's: statistics count tokens with the default model's
 * tokenizer (llama.cpp's, through the runtime), or characters / 4 when there is no model or it cannot be loaded.
 */
async function storeFile(
  ctx: AppContext,
  actor: Actor,
  options: {
    name: string;
    format: ConversationFormat | 'auto';
    file: string;
    validation: number;
    /** Recorded in the row instead of the file's format. */
    synthetic?: boolean;
  },
): Promise<DatasetView> {
  const { name, format, file, validation } = options;
  const model = await defaultModelFor({ ctx, actor });
  let counted: { counts: number[]; model: string } | null = null;
  if (model?.kind === 'model') {
    const texts = await runInThread(ctx, 'dataset-texts', { file, format, name });
    try {
      counted = {
        counts: await ctx.runtime.countTokens(model.versionId, texts),
        model: `${model.name}:${model.version}`,
      };
    } catch {
      counted = null;
    }
  }
  const id = newId('ds');
  const dir = join(ctx.config.home, 'datasets', id);
  const result = await runInThread(ctx, 'dataset-store', {
    file,
    format,
    name,
    dir,
    validation,
    counts: counted?.counts ?? null,
  });
  if (!result.stored) throw new DatasetRejectedError(name, result.rejected);
  const stored: StoredStats = {
    ...result.stats,
    ...(counted ? { tokenizerModel: counted.model } : {}),
    split: result.split,
  };
  try {
    await Promise.all([
      writeLineIndex(join(dir, datasetFiles.train)),
      writeLineIndex(join(dir, datasetFiles.validation)),
    ]);
    const [row] = await ctx.db
      .insert(datasets)
      .values({
        id,
        userId: actor.userId,
        name,
        sourceFormat: options.synthetic ? 'synthetic' : result.format,
        path: dir,
        conversations: result.conversations,
        stats: { ...stored },
        rejected: result.rejected.slice(0, STORED_REJECTIONS),
        rejectedCount: result.rejected.length,
      })
      .returning();
    return view(row!);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Imports an uploaded JSONL file; a file with no valid conversation is a DatasetRejectedError. */
export async function uploadDataset(options: {
  ctx: AppContext;
  actor: Actor;
  name: unknown;
  format: unknown;
  validation: unknown;
  /** The body, as receiveDatasetFile wrote it. */
  file: string;
}): Promise<DatasetView> {
  return storeFile(options.ctx, options.actor, {
    name: validateDatasetName(options.name),
    format: validateFormat(options.format),
    validation: validateValidationFraction(options.validation),
    file: options.file,
  });
}

/** `generator` of the synthetic route: templates, a registry model, or an OpenAI-compatible endpoint. */
export type GeneratorRequest =
  | { kind: 'template' }
  | { kind: 'model'; model: string }
  | { kind: 'openai'; baseUrl: string; apiKey: string; model: string };

function stringField(value: unknown, field: string, max = 2000): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max)
    throw new AppError(
      'invalid_request',
      `${field} must be a non-empty string of at most ${max} characters`,
      field,
    );
  return value;
}

export function validateGenerator(raw: unknown): GeneratorRequest {
  if (raw === undefined) return { kind: 'template' };
  const body = raw as Record<string, unknown> | null;
  switch (typeof body === 'object' && body !== null ? body.kind : undefined) {
    case 'template':
      return { kind: 'template' };
    case 'model':
      return { kind: 'model', model: stringField(body!.model, 'generator.model', 200) };
    case 'openai': {
      const baseUrl = stringField(body!.baseUrl, 'generator.baseUrl');
      outboundUrl(baseUrl, 'generator.baseUrl');
      return {
        kind: 'openai',
        baseUrl: baseUrl.replace(/\/+$/, ''),
        apiKey: stringField(body!.apiKey, 'generator.apiKey', 500),
        model: stringField(body!.model, 'generator.model', 200),
      };
    }
    default:
      throw new AppError(
        'invalid_request',
        "generator.kind must be 'template', 'model' or 'openai'",
        'generator.kind',
      );
  }
}

const GENERATION = { maxTokens: 256, temperature: 0.8, topP: 0.95 };

/** The turn writer for a model generator; errors name the generator, never its key. */
async function generatorFor(
  ctx: AppContext,
  actor: Actor,
  request: GeneratorRequest,
  signal: AbortSignal,
): Promise<ConversationGenerator | undefined> {
  if (request.kind === 'template') return undefined;
  if (request.kind === 'model') {
    const model = await resolveModel({ ctx, actor, reference: request.model });
    return async (messages) => {
      let text = '';
      try {
        const run = ctx.runtime.chat(
          model.versionId,
          messages.map(({ role, content }) => ({ role, content })),
          { ...GENERATION, stop: [], signal },
        );
        for await (const event of run) if (event.type === 'text-delta') text += event.text;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        // The runtime names its own request fields; here the fault is the chosen generator model.
        throw new AppError(
          error.code,
          `generator: model '${request.model}': ${error.message}`,
          'generator.model',
        );
      }
      return text;
    };
  }
  const { baseUrl, apiKey, model } = request;
  return async (messages) => {
    let status: number;
    let text: string;
    try {
      const response = await ctx.outbound.request(`${baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({
          model,
          messages: messages.map(({ role, content }) => ({ role, content })),
          max_tokens: GENERATION.maxTokens,
          temperature: GENERATION.temperature,
        }),
        timeoutMs: 120_000,
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      // The outbound module names the host; here the fault is the generator's endpoint.
      throw new AppError(error.code, `generator: ${error.message}`, 'generator.baseUrl');
    }
    let body: { choices?: { message?: { content?: unknown } }[]; error?: { message?: unknown } } | null;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = null;
    }
    if (status < 200 || status >= 300)
      throw new AppError(
        'invalid_request',
        `generator: ${baseUrl}/chat/completions answered HTTP ${status}` +
          (typeof body?.error?.message === 'string' ? `: ${body.error.message.slice(0, 300)}` : ''),
        'generator',
      );
    const content = body?.choices?.[0]?.message?.content;
    if (typeof content !== 'string')
      throw new AppError(
        'invalid_request',
        `generator: ${baseUrl}/chat/completions answered without choices[0].message.content`,
        'generator',
      );
    return content;
  };
}

function stringList(raw: unknown, field: string): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 100)
    throw new AppError('invalid_request', `${field} must be an array of 1 to 100 names`, field);
  return raw.map((item, index) => stringField(item, `${field}[${index}]`, 200));
}

/** Synthesizes conversations (personas × arcs × topics), deduplicated and PII-scrubbed, as a new dataset. */
export async function synthesizeDataset(options: {
  ctx: AppContext;
  actor: Actor;
  body: unknown;
  signal: AbortSignal;
}): Promise<DatasetView> {
  const body = (options.body ?? {}) as Record<string, unknown>;
  const name = validateDatasetName(body.name);
  const count = body.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10_000)
    throw new AppError('invalid_request', 'count must be a whole number from 1 to 10000', 'count');
  const seed = body.seed;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed)))
    throw new AppError('invalid_request', 'seed must be an integer', 'seed');
  const validation = validateValidationFraction(body.validation);
  const generator = await generatorFor(
    options.ctx,
    options.actor,
    validateGenerator(body.generator),
    options.signal,
  );
  let conversations: Conversation[];
  try {
    ({ conversations } = await synthesizeConversations({
      count,
      seed,
      personas: stringList(body.personas, 'personas'),
      arcs: stringList(body.arcs, 'arcs'),
      topics: stringList(body.topics, 'topics'),
      generator,
    }));
  } catch (error) {
    if (error instanceof DataError) throw new AppError('invalid_request', error.message);
    throw error;
  }
  // Stored the way an upload is: written as OpenAI chat JSONL first, then read in a worker thread.
  const file = pendingFile(options.ctx);
  await mkdir(uploadsDirectory(options.ctx.config.home), { recursive: true });
  try {
    await writeFile(file, conversations.map((c) => `${toJsonLine(c)}\n`).join(''), { flag: 'wx' });
    return await storeFile(options.ctx, options.actor, {
      name,
      format: 'openai',
      file,
      validation,
      synthetic: true,
    });
  } finally {
    await rm(file, { force: true });
  }
}

/** The actor's dataset row; another user's is "not found", like a missing one. */
export async function ownDataset(ctx: AppContext, actor: Actor, datasetId: string) {
  const [row] = await ctx.db
    .select()
    .from(datasets)
    .where(and(eq(datasets.id, datasetId), eq(datasets.userId, actor.userId)));
  if (!row)
    throw new AppError('not_found', `dataset ${datasetId} does not exist; GET /api/datasets lists yours`);
  return row;
}

export async function listDatasets(options: { ctx: AppContext; actor: Actor }): Promise<DatasetView[]> {
  const rows = await options.ctx.db
    .select()
    .from(datasets)
    .where(eq(datasets.userId, options.actor.userId))
    .orderBy(desc(datasets.createdAt));
  return rows.map(view);
}

export async function getDataset(options: {
  ctx: AppContext;
  actor: Actor;
  datasetId: string;
}): Promise<DatasetView> {
  return view(await ownDataset(options.ctx, options.actor, options.datasetId));
}

/** The dataset's folder (train.jsonl, validation.jsonl), for the fine-tune that uses it. */
export async function datasetPath(options: {
  ctx: AppContext;
  actor: Actor;
  datasetId: string;
}): Promise<string> {
  return (await ownDataset(options.ctx, options.actor, options.datasetId)).path;
}

/** A page of one split's conversations: only its lines are read. */
export async function previewDataset(options: {
  ctx: AppContext;
  actor: Actor;
  datasetId: string;
  split: unknown;
  offset: unknown;
  limit: unknown;
}): Promise<{ conversations: Conversation[]; total: number }> {
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'validation')
    throw new AppError('invalid_request', "split must be 'train' or 'validation'", 'split');
  const integer = (raw: unknown, field: string, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(String(raw)) || value > max)
      throw new AppError('invalid_request', `${field} must be a whole number from 0 to ${max}`, field);
    return value;
  };
  const offset = integer(options.offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
  const limit = integer(options.limit, 'limit', 20, 100);
  const row = await ownDataset(options.ctx, options.actor, options.datasetId);
  const file = join(row.path, datasetFiles[split]);
  let page: { lines: string[]; total: number };
  try {
    page = await readLines(file, offset, limit);
  } catch (error) {
    throw new AppError('server_error', `dataset ${row.id}: ${(error as Error).message}`);
  }
  const { conversations, rejected } = importConversations(page.lines.join('\n'), { format: 'openai', file });
  const [first] = rejected;
  if (first)
    throw new AppError(
      'server_error',
      `dataset ${row.id}: ${file}:${offset + first.line}: ${first.field ? `${first.field}: ` : ''}${first.message}`,
    );
  return { conversations, total: page.total };
}

/** Deletes the row and the files. */
export async function deleteDataset(options: {
  ctx: AppContext;
  actor: Actor;
  datasetId: string;
}): Promise<void> {
  const row = await ownDataset(options.ctx, options.actor, options.datasetId);
  await options.ctx.db.delete(datasets).where(eq(datasets.id, row.id));
  await rm(row.path, { recursive: true, force: true });
}
