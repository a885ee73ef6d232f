// The app's pages and their paths, apart from React so they are tested under node.

export type Route =
  | { page: 'chat'; chatId: string | null }
  | { page: 'keys' }
  | { page: 'account' }
  | { page: 'datasets'; datasetId: string | null }
  | { page: 'finetune' }
  | { page: 'jobs'; jobId: string | null }
  | { page: 'models' }
  | { page: 'webhooks' }
  | { page: 'admin-safety' };

export function parseRoute(path: string): Route {
  if (path === '/keys') return { page: 'keys' };
  if (path === '/account') return { page: 'account' };
  if (path === '/finetune') return { page: 'finetune' };
  if (path === '/models') return { page: 'models' };
  if (path === '/webhooks') return { page: 'webhooks' };
  if (path === '/admin/safety') return { page: 'admin-safety' };
  const studio = /^\/(datasets|jobs)(?:\/([^/]+))?$/.exec(path);
  if (studio) {
    const id = studio[2] ? decodeURIComponent(studio[2]) : null;
    return studio[1] === 'datasets' ? { page: 'datasets', datasetId: id } : { page: 'jobs', jobId: id };
  }
  const chat = /^\/chats\/([^/]+)$/.exec(path);
  return { page: 'chat', chatId: chat ? decodeURIComponent(chat[1]) : null };
}

export const chatPath = (id: string) => `/chats/${encodeURIComponent(id)}`;
export const datasetPath = (id: string) => `/datasets/${encodeURIComponent(id)}`;
export const jobPath = (id: string) => `/jobs/${encodeURIComponent(id)}`;
