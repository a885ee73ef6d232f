// Answering in a chat: the chat's history goes to the runtime and the answer streams back as Server-Sent Events
// (`message-created` for the user's message when there is one, `text-delta`s, then `message-finished` with the
// saved answer, or `error`). The answer is saved even when the client disconnects (finish reason `cancelled`);
// usage is recorded like the /v1 API's.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { ChatSettings } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { RegisteredModel } from '../registry/registry.ts';
import type { FinishReason, RuntimeMessage, TokenUsage } from '../serve/runtime.ts';
import { recordUsage } from '../usage.ts';
import { addAnswer, chatMessages, findChat, messageView, type MessageView } from './chats.ts';
import { openEventStream, type EventStream } from '../event-stream.ts';

/** The chat's model, or an error whose message the user can act on. */
async function modelFor(ctx: AppContext, modelId: string | null): Promise<RegisteredModel> {
  if (modelId === null) {
    const fallback = await ctx.registry.defaultModel();
    if (!fallback) throw new AppError('model_not_found', 'no model yet: run the quickstart');
    return fallback;
  }
  try {
    return await ctx.registry.resolve(modelId);
  } catch (error) {
    if (error instanceof AppError && error.code === 'model_not_found')
      throw new AppError(
        'model_not_found',
        "this chat's model no longer exists; choose another model for the chat",
        'modelId',
      );
    throw error;
  }
}

/**
 * Streams an answer to the chat's last message. `created` is the user's message saved by this request (sent
 * first as `message-created`). Takes the response over: from here on, failures are `error` events.
 */
export async function streamAnswer(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  actor: Actor,
  chatId: string,
  created: MessageView | null,
): Promise<void> {
  const response = reply.raw;
  const disconnected = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) disconnected.abort();
  };
  response.on('close', onClose);
  const stream = openEventStream(reply);
  try {
    if (created) await send(stream, disconnected, 'message-created', { message: created });
    await answer(ctx, request, actor, chatId, stream, disconnected);
  } finally {
    response.off('close', onClose);
    stream.end();
  }
}

/** Sends an event; a client that is gone stops the generation. */
async function send(stream: EventStream, disconnected: AbortController, event: string, data: unknown) {
  if (!(await stream.send(event, data))) disconnected.abort();
}

async function answer(
  ctx: AppContext,
  request: FastifyRequest,
  actor: Actor,
  chatId: string,
  stream: EventStream,
  disconnected: AbortController,
): Promise<void> {
  const fail = (message: string) => send(stream, disconnected, 'error', { message });
  let model: RegisteredModel;
  let prompt: RuntimeMessage[];
  let settings: ChatSettings;
  try {
    const chat = await findChat({ ctx, actor, chatId });
    settings = chat.settings;
    model = await modelFor(ctx, chat.modelId);
    const history = await chatMessages({ ctx, actor, chatId: chat.id });
    prompt = [
      ...(settings.systemPrompt ? [{ role: 'system' as const, content: settings.systemPrompt }] : []),
      ...history
        .filter((m) => m.role !== 'system')
        .map((m): RuntimeMessage => ({ role: m.role, content: m.content })),
    ];
  } catch (error) {
    return fail(messageOf(error, request));
  }

  const events = ctx.runtime
    .chat(model.versionId, prompt, {
      maxTokens: settings.maxTokens,
      temperature: settings.temperature,
      topP: 1,
      stop: [],
      signal: disconnected.signal,
    })
    [Symbol.asyncIterator]();
  let text = '';
  let finish: { finishReason: FinishReason; usage: TokenUsage } | null = null;
  let failure: string | null = null;
  try {
    for (;;) {
      const next = await events.next();
      if (next.done) throw new AppError('server_error', 'the generation ended without finishing');
      const event = next.value;
      if (event.type === 'finish') {
        finish = event;
        break;
      }
      text += event.text;
      if (event.text) await send(stream, disconnected, 'text-delta', { text: event.text });
    }
  } catch (error) {
    failure = messageOf(error, request);
  } finally {
    // Ends the generation (and gives its sequence back) when this loop stopped early.
    await events.return?.();
  }

  if (finish) await record(ctx, request, actor, model.name, finish.usage);
  // A failed or cancelled generation keeps what it wrote; an empty one is not worth a message.
  if (finish || text) {
    try {
      const saved = await addAnswer({
        ctx,
        actor,
        chatId,
        answer: {
          content: text,
          model: model.name,
          promptTokens: finish?.usage.promptTokens ?? 0,
          completionTokens: finish?.usage.completionTokens ?? 0,
          finishReason: finish?.finishReason ?? 'error',
        },
      });
      if (finish && !(finish.finishReason === 'cancelled' && !disconnected.signal.aborted))
        await send(stream, disconnected, 'message-finished', {
          message: messageView(saved),
          finishReason: finish.finishReason,
        });
    } catch (error) {
      failure ??= messageOf(error, request);
    }
  }
  if (finish?.finishReason === 'cancelled' && !disconnected.signal.aborted)
    failure ??= 'the model was unloaded while answering; regenerate the answer';
  if (failure) await fail(failure);
}

async function record(
  ctx: AppContext,
  request: FastifyRequest,
  actor: Actor,
  model: string,
  usage: TokenUsage,
): Promise<void> {
  if (usage.promptTokens === 0 && usage.completionTokens === 0) return;
  try {
    await recordUsage(ctx.db, { userId: actor.userId, apiKeyId: null, model, source: 'chat', ...usage });
  } catch (error) {
    request.log.error({ err: error }, 'could not record usage');
  }
}

/** What the user is told: an AppError's own message; anything else is logged and summarized. */
function messageOf(error: unknown, request: FastifyRequest): string {
  if (error instanceof AppError) return error.message;
  request.log.error({ err: error }, 'chat answer failed');
  return 'the answer failed on the server; regenerate it, or report it if it persists';
}
