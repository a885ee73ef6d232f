// The signed-in user's conversation datasets (STUDIO-API.md): upload a JSONL body, synthesize, list, show,
// preview a page of a split, delete.
import { rm } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import {
  DatasetRejectedError,
  deleteDataset,
  getDataset,
  listDatasets,
  previewDataset,
  receiveDatasetFile,
  synthesizeDataset,
  uploadDataset,
} from '../datasets/datasets.ts';
import { closeThreads } from '../threads.ts';

/** The content types an upload may use: JSONL, or plain text. */
const UPLOAD_TYPES = ['application/x-ndjson', 'application/jsonl', 'text/plain'];

/** An upload's body once parsed: the file it was written to as it arrived. */
interface ReceivedFile {
  receivedFile: string;
}

const isReceived = (body: unknown): body is ReceivedFile =>
  typeof body === 'object' && body !== null && 'receivedFile' in body;

export function datasetRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // Datasets are stored in the app's worker threads.
    app.addHook('onClose', () => closeThreads(ctx));

    // In a plugin of its own, so only the upload streams its body to a file instead of holding it in memory.
    await app.register(async (upload) => {
      upload.addContentTypeParser(UPLOAD_TYPES, (_request, body, done) => {
        receiveDatasetFile(ctx, body, ctx.config.datasetLimitBytes).then(
          (receivedFile) => done(null, { receivedFile } satisfies ReceivedFile),
          (error: Error) => done(error),
        );
      });

      upload.post<{ Querystring: Record<string, string | undefined> }>(
        '/datasets',
        access('user'),
        async (request, reply) => {
          const actor = actorOf(request);
          if (!isReceived(request.body))
            throw new AppError(
              'invalid_request',
              'send the JSONL file itself as the body, with content-type application/x-ndjson or text/plain',
              'body',
            );
          const file = request.body.receivedFile;
          try {
            const dataset = await uploadDataset({
              ctx,
              actor,
              name: request.query.name,
              format: request.query.format,
              validation: request.query.validation,
              file,
            });
            return await reply.status(201).send({ dataset });
          } catch (error) {
            if (!(error instanceof DatasetRejectedError)) throw error;
            // Every rejected line goes back with the refusal, so the user can fix the file in one pass.
            return reply.status(400).send({ ...error.toOpenAI(), rejected: error.rejected });
          } finally {
            await rm(file, { force: true });
          }
        },
      );
    });

    app.post('/datasets/synthetic', access('user'), async (request, reply) => {
      const actor = actorOf(request);
      // Generation by a model can take minutes; a client that leaves stops it.
      const disconnected = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) disconnected.abort();
      });
      const dataset = await synthesizeDataset({
        ctx,
        actor,
        body: request.body,
        signal: disconnected.signal,
      });
      return reply.status(201).send({ dataset });
    });

    app.get('/datasets', access('user'), async (request) => ({
      datasets: await listDatasets({ ctx, actor: actorOf(request) }),
    }));

    app.get<{ Params: { id: string } }>('/datasets/:id', access('user'), async (request) => ({
      dataset: await getDataset({ ctx, actor: actorOf(request), datasetId: request.params.id }),
    }));

    app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>(
      '/datasets/:id/preview',
      access('user'),
      async (request) =>
        previewDataset({
          ctx,
          actor: actorOf(request),
          datasetId: request.params.id,
          split: request.query.split,
          offset: request.query.offset,
          limit: request.query.limit,
        }),
    );

    app.delete<{ Params: { id: string } }>('/datasets/:id', access('user'), async (request, reply) => {
      await deleteDataset({ ctx, actor: actorOf(request), datasetId: request.params.id });
      return reply.status(204).send();
    });
  };
}
