// Answering in a chat: the chat's history goes to the runtime and the answer streams back as Server-Sent Events
// (`message-created` for the user's message when there is one, `injection-detected` when the safety policy
// found one in it, `text-delta`s, then `message-finished` with the saved answer — and a `notice` when the
// output filter withheld the rest — or `error`). The answer is saved even when the client disconnects (finish
// reason `cancelled`); the generation and its usage are those of the /v1 API (../generation.ts).
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { ChatSettings } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { openEventStream, type EventStream } from '../event-stream.ts';
import { generate, type GenerationFinish } from '../generation.ts';
import { defaultModelFor, resolveModel } from '../registry/models.ts';
import type { RegisteredModel } from '../registry/registry.ts';
import { withheldNotice } from '../safety/filters.ts';
import type { RuntimeMessage } from '../serve/runtime.ts';
import { addAnswer, chatMessages, findChat, messageView, type MessageView } from './chats.ts';

/** The chat's model, or an error whose message the user can act on. */
async function modelFor(ctx: AppContext, actor: Actor, modelId: string | null): Promise<RegisteredModel> {
  if (modelId === null) {
    const fallback = await defaultModelFor({ ctx, actor });
    if (!fallback) throw new AppError('model_not_found', 'no model yet: run the quickstart');
    return fallback;
  }
  try {
    return await resolveModel({ ctx, actor, reference: modelId });
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

interface AnswerRequest {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
  /** The response the answer streams to; taken over from Fastify. */
  reply: FastifyReply;
  /** The user's message saved by this request, sent first as `message-created`. */
  created: MessageView | null;
}

/** Streams an answer to the chat's last message. Takes the response over: from here on, failures are `error` events. */
export async function streamAnswer(request: AnswerRequest): Promise<void> {
  const stream = openEventStream(request.reply);
  try {
    if (request.created) await stream.send('message-created', { message: request.created });
    await answer(request, stream);
  } finally {
    stream.end();
  }
}

async function answer({ ctx, actor, chatId, reply }: AnswerRequest, stream: EventStream): Promise<void> {
  const fail = async (message: string) => {
    await stream.send('error', { message });
  };
  let model: RegisteredModel;
  let prompt: RuntimeMessage[];
  let settings: ChatSettings;
  try {
    const chat = await findChat({ ctx, actor, chatId });
    settings = chat.settings;
    model = await modelFor(ctx, actor, chat.modelId);
    const history = await chatMessages({ ctx, actor, chatId: chat.id });
    prompt = [
      ...(settings.systemPrompt ? [{ role: 'system' as const, content: settings.systemPrompt }] : []),
      ...history
        .filter((m) => m.role !== 'system')
        .map((m): RuntimeMessage => ({ role: m.role, content: m.content })),
    ];
  } catch (error) {
    return fail(messageOf(error, reply.log));
  }

  let text = '';
  let finish: GenerationFinish | null = null;
  let failure: string | null = null;
  try {
    for await (const event of generate({
      ctx,
      actor,
      reply,
      model,
      input: { messages: prompt },
      maxTokens: settings.maxTokens,
      sampling: { temperature: settings.temperature, topP: 1, stop: [] },
      usage: { model: model.name, source: 'chat' },
    })) {
      if (event.type === 'finish') finish = event;
      else if (event.type === 'injection-detected')
        await stream.send('injection-detected', { score: event.score, reasons: event.reasons });
      else {
        text += event.text;
        if (event.text) await stream.send('text-delta', { text: event.text });
      }
    }
  } catch (error) {
    failure = messageOf(error, reply.log);
  }

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
      if (finish && !finish.unloaded)
        await stream.send('message-finished', {
          message: messageView(saved),
          finishReason: finish.finishReason,
          ...(finish.filteredCategories ? { notice: withheldNotice(finish.filteredCategories) } : {}),
        });
    } catch (error) {
      failure ??= messageOf(error, reply.log);
    }
  }
  if (finish?.unloaded) failure ??= 'the model was unloaded while answering; regenerate the answer';
  if (failure) await fail(failure);
}

/** What the user is told: an AppError's own message; anything else is logged and summarized. */
function messageOf(error: unknown, log: FastifyBaseLogger): string {
  if (error instanceof AppError) return error.message;
  log.error({ err: error }, 'chat answer failed');
  return 'the answer failed on the server; regenerate it, or report it if it persists';
}
