// The web app's chat API under /api: chats (list with search, create, read, change, delete, export), answers
// streamed as Server-Sent Events (send, regenerate, edit and resend), and today's token usage. Every chat is
// found only among the signed-in user's own (chats/chats.ts); another user's is a 404 like a missing one.
import type { FastifyPluginAsync } from 'fastify';
import { requireActor } from '../auth/actor.ts';
import { streamAnswer } from '../chats/answer.ts';
import {
  addUserMessage,
  bodyObject,
  chatMessages,
  chatView,
  createChat,
  deleteChat,
  dropLastAnswer,
  editUserMessage,
  findChat,
  listChats,
  messageView,
  parseContent,
  updateChat,
} from '../chats/chats.ts';
import { exportChat } from '../chats/export.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { usageSince } from '../usage.ts';

type ById = { Params: { id: string } };

export function chatRoutes(ctx: AppContext): FastifyPluginAsync {
  /** Chats with an answer being written: a second one at the same time (another tab) would interleave them. */
  const answering = new Set<string>();
  async function oneAnswerAtATime(chatId: string, work: () => Promise<void>): Promise<void> {
    if (answering.has(chatId))
      throw new AppError('conflict', 'an answer is being written in this chat; wait for it or stop it first');
    answering.add(chatId);
    try {
      await work();
    } finally {
      answering.delete(chatId);
    }
  }

  return async (app) => {
    app.get<{ Querystring: { q?: unknown } }>('/chats', async (request) => {
      const actor = requireActor(request);
      const q = request.query.q;
      if (q !== undefined && typeof q !== 'string')
        throw new AppError('invalid_request', 'q must be one search string', 'q');
      return { chats: await listChats(ctx.db, actor, q ?? '') };
    });

    app.post('/chats', async (request, reply) => {
      const actor = requireActor(request);
      return reply.status(201).send(await createChat(ctx.db, ctx.registry, actor, bodyObject(request.body)));
    });

    app.get<ById>('/chats/:id', async (request) => {
      const chat = await findChat(ctx.db, requireActor(request), request.params.id);
      return { chat: chatView(chat), messages: (await chatMessages(ctx.db, chat.id)).map(messageView) };
    });

    app.patch<ById>('/chats/:id', async (request) =>
      updateChat(ctx.db, ctx.registry, requireActor(request), request.params.id, bodyObject(request.body)),
    );

    app.delete<ById>('/chats/:id', async (request, reply) => {
      await deleteChat(ctx.db, requireActor(request), request.params.id);
      return reply.status(204).send();
    });

    app.post<ById>('/chats/:id/messages', async (request, reply) => {
      const actor = requireActor(request);
      const chat = await findChat(ctx.db, actor, request.params.id);
      const content = parseContent(bodyObject(request.body));
      await oneAnswerAtATime(chat.id, async () => {
        const message = await addUserMessage(ctx.db, chat, content);
        await streamAnswer(ctx, request, reply, actor, chat.id, messageView(message));
      });
    });

    app.post<ById>('/chats/:id/regenerate', async (request, reply) => {
      const actor = requireActor(request);
      const chat = await findChat(ctx.db, actor, request.params.id);
      await oneAnswerAtATime(chat.id, async () => {
        await dropLastAnswer(ctx.db, chat);
        await streamAnswer(ctx, request, reply, actor, chat.id, null);
      });
    });

    app.post<{ Params: { id: string; messageId: string } }>(
      '/chats/:id/messages/:messageId/edit',
      async (request, reply) => {
        const actor = requireActor(request);
        const chat = await findChat(ctx.db, actor, request.params.id);
        const content = parseContent(bodyObject(request.body));
        await oneAnswerAtATime(chat.id, async () => {
          const message = await editUserMessage(ctx.db, chat, request.params.messageId, content);
          await streamAnswer(ctx, request, reply, actor, chat.id, messageView(message));
        });
      },
    );

    app.get<ById & { Querystring: { format?: unknown } }>('/chats/:id/export', async (request, reply) => {
      const chat = await findChat(ctx.db, requireActor(request), request.params.id);
      const format = request.query.format ?? 'markdown';
      if (format !== 'markdown' && format !== 'json')
        throw new AppError('invalid_request', 'format must be markdown or json', 'format');
      const file = await exportChat(ctx, chat, format);
      return reply
        .header('content-type', file.contentType)
        .header('content-disposition', `attachment; filename="${file.filename}"`)
        .send(file.body);
    });

    app.get('/usage/today', async (request) => {
      const actor = requireActor(request);
      const now = new Date();
      const startOfDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      return usageSince(ctx.db, actor.userId, startOfDay);
    });
  };
}
