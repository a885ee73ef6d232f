// The web app's chat API under /api: chats (list with search, create, read, change, delete, export), answers
// streamed as Server-Sent Events (send, regenerate, edit and resend), and today's token usage. Every chat is
// found only among the signed-in user's own (chats/chats.ts); another user's is a 404 like a missing one.
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
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
import { usageToday } from '../usage.ts';

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
    app.get<{ Querystring: { q?: unknown } }>('/chats', access('user'), async (request) => {
      const q = request.query.q;
      if (q !== undefined && typeof q !== 'string')
        throw new AppError('invalid_request', 'q must be one search string', 'q');
      return { chats: await listChats({ ctx, actor: actorOf(request), query: q ?? '' }) };
    });

    app.post('/chats', access('user'), async (request, reply) => {
      const chat = await createChat({ ctx, actor: actorOf(request), body: bodyObject(request.body) });
      return reply.status(201).send(chat);
    });

    app.get<ById>('/chats/:id', access('user'), async (request) => {
      const found = { ctx, actor: actorOf(request), chatId: request.params.id };
      const chat = await findChat(found);
      return { chat: chatView(chat), messages: (await chatMessages(found)).map(messageView) };
    });

    app.patch<ById>('/chats/:id', access('user'), async (request) =>
      updateChat({ ctx, actor: actorOf(request), chatId: request.params.id, body: bodyObject(request.body) }),
    );

    app.delete<ById>('/chats/:id', access('user'), async (request, reply) => {
      await deleteChat({ ctx, actor: actorOf(request), chatId: request.params.id });
      return reply.status(204).send();
    });

    app.post<ById>('/chats/:id/messages', access('user'), async (request, reply) => {
      const actor = actorOf(request);
      const chat = await findChat({ ctx, actor, chatId: request.params.id });
      const content = parseContent(bodyObject(request.body));
      await oneAnswerAtATime(chat.id, async () => {
        const message = await addUserMessage({ ctx, actor, chatId: chat.id, content });
        await streamAnswer({ ctx, actor, chatId: chat.id, reply, created: messageView(message) });
      });
    });

    app.post<ById>('/chats/:id/regenerate', access('user'), async (request, reply) => {
      const actor = actorOf(request);
      const chat = await findChat({ ctx, actor, chatId: request.params.id });
      await oneAnswerAtATime(chat.id, async () => {
        await dropLastAnswer({ ctx, actor, chatId: chat.id });
        await streamAnswer({ ctx, actor, chatId: chat.id, reply, created: null });
      });
    });

    app.post<{ Params: { id: string; messageId: string } }>(
      '/chats/:id/messages/:messageId/edit',
      access('user'),
      async (request, reply) => {
        const actor = actorOf(request);
        const chat = await findChat({ ctx, actor, chatId: request.params.id });
        const content = parseContent(bodyObject(request.body));
        await oneAnswerAtATime(chat.id, async () => {
          const { messageId } = request.params;
          const message = await editUserMessage({ ctx, actor, chatId: chat.id, messageId, content });
          await streamAnswer({ ctx, actor, chatId: chat.id, reply, created: messageView(message) });
        });
      },
    );

    app.get<ById & { Querystring: { format?: unknown } }>(
      '/chats/:id/export',
      access('user'),
      async (request, reply) => {
        const format = request.query.format ?? 'markdown';
        if (format !== 'markdown' && format !== 'json')
          throw new AppError('invalid_request', 'format must be markdown or json', 'format');
        const file = await exportChat({ ctx, actor: actorOf(request), chatId: request.params.id, format });
        return reply
          .header('content-type', file.contentType)
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .send(file.body);
      },
    );

    app.get('/usage/today', access('user'), async (request) => usageToday({ ctx, actor: actorOf(request) }));
  };
}
