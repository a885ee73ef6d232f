// The OpenAI-compatible /v1 (docs/FORMATS.md#openai-http-api): models, chat and legacy completions, embeddings
// and moderations, so the official clients work unchanged. Request bodies are parsed by ../openai/requests.ts and
// answered in the shapes of ../openai/responses.ts; completions run through ../generation.ts (which aborts the
// generation when the client disconnects); every generation and embedding is recorded as usage.
import { builtinModerationPolicy, moderate } from '@ownlm/studio';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { resolveModel, usableModels } from '../registry/models.ts';
import { generate, type GenerationRequest } from '../generation.ts';
import { moderationResponse, parseModerationRequest } from '../openai/moderations.ts';
import {
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  type SamplingRequest,
} from '../openai/requests.ts';
import {
  answerCompletion,
  chatShape,
  completionShape,
  embeddingList,
  modelList,
  modelObject,
  type CompletionShape,
} from '../openai/responses.ts';
import { askGuard } from '../safety/filters.ts';
import { recordUsage } from '../usage.ts';

/** The /v1 routes; registered by buildApp under the `/v1` prefix, behind API-key or session authentication. */
export function v1Routes(ctx: AppContext): FastifyPluginAsync {
  /** Runs a chat or legacy completion and answers it in the endpoint's shape. */
  async function complete(
    request: FastifyRequest,
    reply: FastifyReply,
    parsed: SamplingRequest & Pick<GenerationRequest['sampling'], 'responseFormat'>,
    input: GenerationRequest['input'],
    shape: CompletionShape,
    prefix = '',
  ): Promise<unknown> {
    const generation = generate({
      ctx,
      actor: actorOf(request),
      reply,
      model: await resolveModel({ ctx, actor: actorOf(request), reference: parsed.model }),
      input,
      maxTokens: parsed.maxTokens,
      sampling: parsed,
      usage: { model: parsed.model, source: 'api' },
    });
    return answerCompletion(reply, generation, { request: parsed, shape, prefix });
  }

  return async (app) => {
    app.get('/models', access('inference'), async (request) =>
      modelList(await usableModels({ ctx, actor: actorOf(request) })),
    );

    app.get<{ Params: { model: string } }>('/models/:model', access('inference'), async (request) =>
      modelObject(
        request.params.model,
        await resolveModel({ ctx, actor: actorOf(request), reference: request.params.model }),
      ),
    );

    app.post('/chat/completions', access('inference'), async (request, reply) => {
      const parsed = parseChatRequest(request.body);
      return complete(request, reply, parsed, { messages: parsed.messages }, chatShape);
    });

    app.post('/completions', access('inference'), async (request, reply) => {
      const parsed = parseCompletionRequest(request.body);
      const prefix = parsed.echo ? parsed.prompt : '';
      return complete(request, reply, parsed, { prompt: parsed.prompt }, completionShape, prefix);
    });

    app.post('/moderations', access('inference'), async (request) => {
      const parsed = parseModerationRequest(request.body);
      if (parsed.guardModel === null) {
        const policy = builtinModerationPolicy('input');
        return moderationResponse(
          parsed.model,
          parsed.inputs.map((text) => moderate(text, policy)),
        );
      }
      const guardModel = await resolveModel({ ctx, actor: actorOf(request), reference: parsed.guardModel });
      // A guard's answer is a few tokens: it runs to the end even if the client leaves.
      const signal = new AbortController().signal;
      const results = [];
      for (const text of parsed.inputs)
        results.push(
          await askGuard({ ctx, guardModel, conversation: [{ role: 'user', content: text }], signal }),
        );
      return moderationResponse(parsed.model, results);
    });

    app.post('/embeddings', access('inference'), async (request) => {
      const actor = actorOf(request);
      const parsed = parseEmbeddingRequest(request.body);
      const model = await resolveModel({ ctx, actor, reference: parsed.model });
      const { embeddingSize } = await ctx.runtime.info(model.versionId);
      if (parsed.dimensions !== null && parsed.dimensions !== embeddingSize)
        throw new AppError(
          'invalid_request',
          `dimensions: model '${model.name}:${model.version}' makes vectors of ${embeddingSize} dimensions and ` +
            'cannot shorten them; leave dimensions out',
          'dimensions',
        );
      const { vectors, promptTokens } = await ctx.runtime.embed(model.versionId, parsed.inputs);
      await recordUsage(
        ctx.db,
        {
          userId: actor.userId,
          apiKeyId: actor.apiKeyId,
          model: parsed.model,
          versionId: model.versionId,
          source: 'api',
          promptTokens,
          completionTokens: 0,
        },
        request.log,
      );
      return embeddingList(parsed, vectors, promptTokens);
    });
  };
}
