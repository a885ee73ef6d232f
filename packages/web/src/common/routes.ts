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
  | { page: 'admin'; tab: AdminTab };

/** The admin area's tabs, in the order its tab bar shows them; `/admin` opens the first. */
export const ADMIN_TABS = ['safety'] as const;
export type AdminTab = (typeof ADMIN_TABS)[number];

export function parseRoute(path: string): Route {
  if (path === '/keys') return { page: 'keys' };
  if (path === '/account') return { page: 'account' };
  if (path === '/finetune') return { page: 'finetune' };
  if (path === '/models') return { page: 'models' };
  if (path === '/webhooks') return { page: 'webhooks' };
  const admin = /^\/admin(?:\/([^/]+))?$/.exec(path);
  if (admin) {
    const tab = ADMIN_TABS.find((t) => t === (admin[1] ?? ADMIN_TABS[0]));
    if (tab) return { page: 'admin', tab };
  }
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
export const adminPath = (tab: AdminTab) => `/admin/${tab}`;
