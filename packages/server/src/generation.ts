// One generation for a client at the other end of an HTTP response, the same for the /v1 completions and the chat
// answers: the safety policy in force checks the input first and the output as it streams (./safety/filters.ts),
// the length is bounded by the model's context, the runtime generates, a client that disconnects aborts the
// generation, and every request is recorded as usage once it ends (tokens, how it ended, first-token and total
// time), refused ones included.
import type { FastifyReply } from 'fastify';
import type { Actor } from './auth/actor.ts';
import type { AppContext } from './context.ts';
import { AppError } from './errors.ts';
import type { RequestedLength } from './openai/requests.ts';
import { refuseOversizedPrompt } from './prompt-size.ts';
import type { RegisteredModel } from './registry/registry.ts';
import { generationFilters, type FilteredEvent, type InjectionWarning } from './safety/filters.ts';
import type {
  FinishReason,
  GenerationEvent,
  GenerationOptions,
  RuntimeMessage,
  TokenUsage,
} from './serve/runtime.ts';
import { recordUsage, type UsageRecord } from './usage.ts';

export interface GenerationRequest {
  ctx: AppContext;
  actor: Actor;
  /** The response the client reads: its closing before the end aborts the generation. */
  reply: FastifyReply;
  model: RegisteredModel;
  /** Chat messages (the model's chat template is applied) or a raw prompt. */
  input: { messages: RuntimeMessage[] } | { prompt: string };
  /**
   * A length the client asked for is checked against the model's context (a 400 naming its field); null is up to
   * the end of the context; a plain number is a bound the end of the context may cut short.
   */
  maxTokens: RequestedLength | null | number;
  sampling: Pick<GenerationOptions, 'temperature' | 'topP' | 'seed' | 'stop' | 'responseFormat'>;
  /** The model name usage is recorded under (the one the client asked for), and where the request came from. */
  usage: Pick<UsageRecord, 'model' | 'source'>;
}

/** The end of a generation, as its client is told: `content_filter` when the output filter stopped it. */
export interface GenerationFinish {
  type: 'finish';
  finishReason: Extract<FilteredEvent, { type: 'finish' }>['finishReason'];
  usage: TokenUsage;
  /** Cancelled while the client is still there: the model was unloaded, and the client should retry. */
  unloaded: boolean;
  /** With `content_filter`: the categories that stopped the output. */
  filteredCategories?: string[];
}

/** A prompt injection detected in the input comes first, before any text. */
export type ClientGenerationEvent =
  InjectionWarning | Extract<GenerationEvent, { type: 'text-delta' }> | GenerationFinish;

/** The length to generate: what the client asked for, checked against the model's context, or all of it. */
async function lengthFor(
  ctx: AppContext,
  model: RegisteredModel,
  requested: RequestedLength | null | number,
): Promise<number> {
  if (typeof requested === 'number') return requested;
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

/** The runtime names the chat's `messages` when a prompt is too long; for a raw prompt the field is `prompt`. */
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

/** How a generation ended, as its usage row says. */
function statusOf(finishReason: FinishReason | 'content_filter'): UsageRecord['status'] {
  if (finishReason === 'content_filter') return 'filtered';
  return finishReason === 'cancelled' ? 'cancelled' : 'ok';
}

/**
 * Text deltas, then exactly one finish (or an error). Nothing runs until the first event is asked for, so an
 * error before it (a blocked input, the requested length, an unknown model file, a full queue) can still be an
 * HTTP error. Stopping early ends the generation and gives its sequence back.
 */
export async function* generate(request: GenerationRequest): AsyncGenerator<ClientGenerationEvent> {
  const { ctx, actor, model, input, sampling } = request;
  const response = request.reply.raw;
  const started = performance.now();
  const outcome: Pick<UsageRecord, 'status' | 'errorCode' | 'firstTokenMs'> & { usage: TokenUsage } = {
    // What it is when the client stops reading before the end.
    status: 'cancelled',
    errorCode: null,
    firstTokenMs: null,
    usage: { promptTokens: 0, completionTokens: 0 },
  };
  let running = false;
  const disconnected = new AbortController();
  const filtered = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) disconnected.abort();
  };
  response.on('close', onClose);
  if (response.destroyed) onClose();
  try {
    await refuseOversizedPrompt(ctx, model, input);
    const filters = await generationFilters({
      ctx,
      actor,
      model,
      input,
      usage: request.usage,
      log: request.reply.log,
      signal: disconnected.signal,
    });
    const warning = await filters?.checkInput();
    if (warning) yield warning;
    const options: GenerationOptions = {
      maxTokens: await lengthFor(ctx, model, request.maxTokens),
      temperature: sampling.temperature,
      topP: sampling.topP,
      ...(sampling.seed === undefined ? {} : { seed: sampling.seed }),
      stop: sampling.stop,
      ...(sampling.responseFormat ? { responseFormat: sampling.responseFormat } : {}),
      signal: AbortSignal.any([disconnected.signal, filtered.signal]),
    };
    running = true;
    const generated =
      'messages' in input
        ? ctx.runtime.chat(model.versionId, input.messages, options)
        : promptNamed(ctx.runtime.complete(model.versionId, input.prompt, options));
    const events = filters ? filters.filterOutput(generated, () => filtered.abort()) : generated;
    for await (const event of events) {
      if (event.type === 'text-delta') {
        outcome.firstTokenMs ??= Math.round(performance.now() - started);
        yield event;
        continue;
      }
      Object.assign(outcome, { status: statusOf(event.finishReason), usage: event.usage });
      yield { ...event, unloaded: event.finishReason === 'cancelled' && !disconnected.signal.aborted };
      return;
    }
    throw new AppError('server_error', 'the generation ended without finishing');
  } catch (error) {
    // Refused: stopped before the runtime ran (a blocked input, a length, a full queue); failed: after.
    outcome.status = running ? 'error' : 'refused';
    outcome.errorCode = error instanceof AppError ? error.code : 'server_error';
    throw error;
  } finally {
    response.off('close', onClose);
    await recordUsage(
      ctx.db,
      {
        userId: actor.userId,
        apiKeyId: actor.apiKeyId,
        ...request.usage,
        versionId: model.versionId,
        ...outcome.usage,
        status: outcome.status,
        errorCode: outcome.errorCode,
        firstTokenMs: outcome.firstTokenMs,
        totalMs: Math.round(performance.now() - started),
      },
      request.reply.log,
    );
  }
}
