// The OpenAI-compatible /v1 (docs/FORMATS.md#openai-http-api): models, chat and legacy completions, and
// embeddings, in OpenAI's shapes so the official clients work unchanged. Requests are validated by
// ../openai/requests.ts; generation goes through the Runtime; every generation and embedding is recorded as
// usage. Streaming is Server-Sent Events written to the raw response: an error before the first event is an
// ordinary HTTP error, an error after it an `{"error":…}` event before `[DONE]`. A client that disconnects
// aborts its generation.
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf, type Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { openEventStream } from '../event-stream.ts';
import {
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  type RequestedLength,
  type SamplingRequest,
} from '../openai/requests.ts';
import type { RegisteredModel } from '../registry/registry.ts';
import type { FinishReason, GenerationEvent, GenerationOptions, TokenUsage } from '../serve/runtime.ts';
import { recordUsage } from '../usage.ts';

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const completionId = (prefix: string) => `${prefix}-${randomBytes(18).toString('base64url')}`;

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: 'ownlm';
}

const modelObject = (id: string, model: RegisteredModel): ModelObject => ({
  id,
  object: 'model',
  created: seconds(model.createdAt),
  owned_by: 'ownlm',
});

/** Every name a client can send: each model's name (its newest version), each `name:version`, each alias. */
function modelObjects(models: RegisteredModel[]): ModelObject[] {
  const byId = new Map<string, ModelObject>();
  // `list()` returns each model's newest version first, so the bare name goes to the newest.
  for (const model of models)
    for (const id of [model.name, `${model.name}:${model.version}`, ...model.aliases])
      if (!byId.has(id)) byId.set(id, modelObject(id, model));
  return [...byId.values()];
}

/** Usage in OpenAI's shape. */
const usageObject = (usage: TokenUsage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
});

type ClientFinishReason = Exclude<FinishReason, 'cancelled'>;

/** The response shapes of one endpoint: chat (`chat.completion[.chunk]`) or legacy (`text_completion`). */
interface Shape {
  /** A streamed chunk's `choices[0]`: the opening (role), a text piece, or the final one with the reason. */
  choice(piece: { opening: true } | { text: string } | { finish: ClientFinishReason }): object;
  /** Whether the stream opens with a chunk of no text (chat's `{"role":"assistant","content":""}`). */
  opening: boolean;
  chunkObject: string;
  /** The whole response's `choices[0]`. */
  whole(text: string, finish: ClientFinishReason): object;
  wholeObject: string;
}

const chatShape: Shape = {
  opening: true,
  chunkObject: 'chat.completion.chunk',
  choice: (piece) => ({
    index: 0,
    delta:
      'opening' in piece
        ? { role: 'assistant', content: '' }
        : 'text' in piece
          ? { content: piece.text }
          : {},
    logprobs: null,
    finish_reason: 'finish' in piece ? piece.finish : null,
  }),
  wholeObject: 'chat.completion',
  whole: (text, finish) => ({
    index: 0,
    message: { role: 'assistant', content: text, refusal: null },
    logprobs: null,
    finish_reason: finish,
  }),
};

const completionShape: Shape = {
  opening: false,
  chunkObject: 'text_completion',
  choice: (piece) => ({
    text: 'text' in piece ? piece.text : '',
    index: 0,
    logprobs: null,
    finish_reason: 'finish' in piece ? piece.finish : null,
  }),
  wholeObject: 'text_completion',
  whole: (text, finish) => ({ text, index: 0, logprobs: null, finish_reason: finish }),
};

/** One generation request, parsed and resolved, ready to run. */
interface Generation {
  actor: Actor;
  request: SamplingRequest;
  shape: Shape;
  id: string;
  /** Text sent before the generated text (the prompt, for `echo`). */
  prefix: string;
  run(options: GenerationOptions): AsyncIterable<GenerationEvent>;
}

/** The requested length checked against the model's context; the default is the whole context. */
async function lengthFor(ctx: AppContext, model: RegisteredModel, requested: RequestedLength | null) {
  const { contextLength } = await ctx.runtime.info(model.versionId);
  if (requested === null) return contextLength;
  if (requested.value > contextLength)
    throw new AppError(
      'invalid_request',
      `${requested.param}: ${requested.value} is more than model '${model.name}:${model.version}' can generate; ` +
        `its context is ${contextLength} tokens for prompt and completion together`,
      requested.param,
    );
  return requested.value;
}

function errorBody(error: unknown, log: FastifyBaseLogger) {
  if (error instanceof AppError) return error.toOpenAI();
  log.error({ err: error }, 'generation failed');
  return new AppError(
    'server_error',
    'the generation failed on the server; retry, or report it if it persists',
  ).toOpenAI();
}

/** Runs a generation and answers with one JSON response or an SSE stream; records usage either way. */
async function serveGeneration(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  generation: Generation,
  maxTokens: number,
): Promise<unknown> {
  const { request: parsed, shape, id } = generation;
  const created = Math.floor(Date.now() / 1000);
  const response = reply.raw;
  const disconnected = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) disconnected.abort();
  };
  response.on('close', onClose);
  const events = generation
    .run({
      maxTokens,
      temperature: parsed.temperature,
      topP: parsed.topP,
      ...(parsed.seed === undefined ? {} : { seed: parsed.seed }),
      stop: parsed.stop,
      signal: disconnected.signal,
    })
    [Symbol.asyncIterator]();

  const record = async (usage: TokenUsage) => {
    if (usage.promptTokens === 0 && usage.completionTokens === 0) return;
    try {
      await recordUsage(ctx.db, {
        userId: generation.actor.userId,
        apiKeyId: generation.actor.apiKeyId,
        model: parsed.model,
        source: 'api',
        ...usage,
      });
    } catch (error) {
      request.log.error({ err: error }, 'could not record usage');
    }
  };
  /** A cancellation the client did not cause (the model was unloaded) is an error it should retry. */
  const unloaded = () =>
    new AppError('overloaded', 'the model was unloaded while generating this answer; retry the request');

  try {
    if (!parsed.stream) {
      let text = generation.prefix;
      for (;;) {
        const next = await events.next();
        if (next.done) throw new AppError('server_error', 'the generation ended without finishing');
        const event = next.value;
        if (event.type === 'text-delta') {
          text += event.text;
          continue;
        }
        await record(event.usage);
        if (event.finishReason === 'cancelled') {
          if (!disconnected.signal.aborted) throw unloaded();
          // The client is gone: nothing to send.
          reply.hijack();
          return;
        }
        return {
          id,
          object: shape.wholeObject,
          created,
          model: parsed.model,
          choices: [shape.whole(text, event.finishReason)],
          usage: usageObject(event.usage),
        };
      }
    }

    // The first event is awaited before any byte is sent, so that an error up to here (unknown model, context
    // length, overloaded queue) is an ordinary HTTP error response.
    let next = await events.next();
    if (!next.done && next.value.type === 'finish' && next.value.finishReason === 'cancelled') {
      await record(next.value.usage);
      if (!disconnected.signal.aborted) throw unloaded();
      reply.hijack();
      return;
    }
    const stream = openEventStream(reply);
    const usageField = parsed.includeUsage ? { usage: null } : {};
    const chunk = (choices: object[]) => ({
      id,
      object: shape.chunkObject,
      created,
      model: parsed.model,
      choices,
      ...usageField,
    });
    if (shape.opening) await stream.sendData(chunk([shape.choice({ opening: true })]));
    if (generation.prefix) await stream.sendData(chunk([shape.choice({ text: generation.prefix })]));
    try {
      while (stream.open && !next.done) {
        const event = next.value;
        if (event.type === 'text-delta') {
          if (event.text) await stream.sendData(chunk([shape.choice({ text: event.text })]));
        } else {
          await record(event.usage);
          if (event.finishReason === 'cancelled') {
            if (!disconnected.signal.aborted) await stream.sendData(errorBody(unloaded(), request.log));
          } else {
            await stream.sendData(chunk([shape.choice({ finish: event.finishReason })]));
            if (parsed.includeUsage)
              await stream.sendData({
                id,
                object: shape.chunkObject,
                created,
                model: parsed.model,
                choices: [],
                usage: usageObject(event.usage),
              });
          }
          break;
        }
        next = await events.next();
      }
    } catch (error) {
      await stream.sendData(errorBody(error, request.log));
    }
    stream.end('data: [DONE]\n\n');
    return;
  } finally {
    response.off('close', onClose);
    // Ends the generation (and gives its sequence back) when this route stopped reading early.
    await events.return?.();
  }
}

async function resolveModel(ctx: AppContext, reference: string): Promise<RegisteredModel> {
  return ctx.registry.resolve(reference);
}

/** The /v1 routes; registered by buildApp under the `/v1` prefix, behind API-key or session authentication. */
export function v1Routes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/models', access('inference'), async () => {
      return { object: 'list', data: modelObjects(await ctx.registry.list()) };
    });

    app.get<{ Params: { model: string } }>('/models/:model', access('inference'), async (request) => {
      return modelObject(request.params.model, await resolveModel(ctx, request.params.model));
    });

    app.post('/chat/completions', access('inference'), async (request, reply) => {
      const actor = actorOf(request);
      const parsed = parseChatRequest(request.body);
      const model = await resolveModel(ctx, parsed.model);
      const maxTokens = await lengthFor(ctx, model, parsed.maxTokens);
      return serveGeneration(
        ctx,
        request,
        reply,
        {
          actor,
          request: parsed,
          shape: chatShape,
          id: completionId('chatcmpl'),
          prefix: '',
          run: (options) =>
            ctx.runtime.chat(model.versionId, parsed.messages, {
              ...options,
              ...(parsed.responseFormat ? { responseFormat: parsed.responseFormat } : {}),
            }),
        },
        maxTokens,
      );
    });

    app.post('/completions', access('inference'), async (request, reply) => {
      const actor = actorOf(request);
      const parsed = parseCompletionRequest(request.body);
      const model = await resolveModel(ctx, parsed.model);
      const maxTokens = await lengthFor(ctx, model, parsed.maxTokens);
      return serveGeneration(
        ctx,
        request,
        reply,
        {
          actor,
          request: parsed,
          shape: completionShape,
          id: completionId('cmpl'),
          prefix: parsed.echo ? parsed.prompt : '',
          run: (options) => promptNamed(ctx.runtime.complete(model.versionId, parsed.prompt, options)),
        },
        maxTokens,
      );
    });

    app.post('/embeddings', access('inference'), async (request) => {
      const actor = actorOf(request);
      const parsed = parseEmbeddingRequest(request.body);
      const model = await resolveModel(ctx, parsed.model);
      const { embeddingSize } = await ctx.runtime.info(model.versionId);
      if (parsed.dimensions !== null && parsed.dimensions !== embeddingSize)
        throw new AppError(
          'invalid_request',
          `dimensions: model '${model.name}:${model.version}' makes vectors of ${embeddingSize} dimensions and ` +
            'cannot shorten them; leave dimensions out',
          'dimensions',
        );
      const { vectors, promptTokens } = await ctx.runtime.embed(model.versionId, parsed.inputs);
      try {
        await recordUsage(ctx.db, {
          userId: actor.userId,
          apiKeyId: actor.apiKeyId,
          model: parsed.model,
          source: 'api',
          promptTokens,
          completionTokens: 0,
        });
      } catch (error) {
        request.log.error({ err: error }, 'could not record usage');
      }
      return {
        object: 'list',
        data: vectors.map((vector, index) => ({
          object: 'embedding',
          index,
          embedding: parsed.encodingFormat === 'base64' ? base64(vector) : Array.from(vector),
        })),
        model: parsed.model,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      };
    });
  };
}

/** The vector as base64 of little-endian float32 bytes, whatever this machine's byte order. */
function base64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}

/** The runtime names the chat's `messages` when a prompt is too long; for completions the field is `prompt`. */
async function* promptNamed(events: AsyncIterable<GenerationEvent>): AsyncGenerator<GenerationEvent> {
  try {
    yield* events;
  } catch (error) {
    if (error instanceof AppError && error.code === 'context_length_exceeded' && error.param === 'messages')
      throw new AppError(
        error.code,
        error.message.replace('shorten the messages', 'shorten the prompt'),
        'prompt',
      );
    throw error;
  }
}
