// A chat as a file to download: Markdown to read, JSON to process.
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { resolveModel } from '../registry/models.ts';
import { chatMessages, findChat } from './chats.ts';

export interface ExportFile {
  filename: string;
  contentType: string;
  body: string;
}

const roleNames = { system: 'System', user: 'User', assistant: 'Assistant' } as const;

/** An ASCII file name from the title (quotes, slashes and the like dropped), never empty. */
export function safeFilename(title: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9 ._-]/g, '')
    .trim()
    .replace(/\s+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 80);
  return base || 'chat';
}

/** The actor's chat as a download. */
export async function exportChat(options: {
  ctx: AppContext;
  actor: Actor;
  chatId: string;
  format: 'markdown' | 'json';
}): Promise<ExportFile> {
  const { ctx, format } = options;
  const chat = await findChat(options);
  const history = await chatMessages(options);
  const filename = safeFilename(chat.title);
  if (format === 'markdown') {
    const parts = [`# ${chat.title}`];
    for (const message of history) parts.push(`**${roleNames[message.role]}**`, message.content);
    return {
      filename: `${filename}.md`,
      contentType: 'text/markdown; charset=utf-8',
      body: `${parts.join('\n\n')}\n`,
    };
  }
  let model: string | null = history.findLast((m) => m.role === 'assistant')?.model ?? null;
  if (chat.modelId !== null)
    try {
      model = (await resolveModel({ ctx, actor: options.actor, reference: chat.modelId })).name;
    } catch {
      // The chat's model is gone; the model named by its last answer stands.
    }
  const body = {
    title: chat.title,
    model,
    exportedAt: new Date().toISOString(),
    messages: history.map((m) => ({ role: m.role, content: m.content })),
  };
  return {
    filename: `${filename}.json`,
    contentType: 'application/json; charset=utf-8',
    body: `${JSON.stringify(body, null, 2)}\n`,
  };
}
