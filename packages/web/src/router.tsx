// A handful of routes needs no router library: the path lives in history, and links call navigate().
import { useSyncExternalStore, type AnchorHTMLAttributes } from 'react';

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export type Route =
  | { page: 'chat'; chatId: string | null }
  | { page: 'keys' }
  | { page: 'datasets'; datasetId: string | null }
  | { page: 'finetune' }
  | { page: 'jobs'; jobId: string | null }
  | { page: 'models' }
  | { page: 'webhooks' };

export function parseRoute(path: string): Route {
  if (path === '/keys') return { page: 'keys' };
  if (path === '/finetune') return { page: 'finetune' };
  if (path === '/models') return { page: 'models' };
  if (path === '/webhooks') return { page: 'webhooks' };
  const studio = /^\/(datasets|jobs)(?:\/([^/]+))?$/.exec(path);
  if (studio) {
    const id = studio[2] ? decodeURIComponent(studio[2]) : null;
    return studio[1] === 'datasets' ? { page: 'datasets', datasetId: id } : { page: 'jobs', jobId: id };
  }
  const chat = /^\/chats\/([^/]+)$/.exec(path);
  return { page: 'chat', chatId: chat ? decodeURIComponent(chat[1]) : null };
}

export function useRoute(): Route {
  const path = useSyncExternalStore(subscribe, () => window.location.pathname);
  return parseRoute(path);
}

export const chatPath = (id: string) => `/chats/${encodeURIComponent(id)}`;
export const datasetPath = (id: string) => `/datasets/${encodeURIComponent(id)}`;
export const jobPath = (id: string) => `/jobs/${encodeURIComponent(id)}`;

/** An anchor that navigates in place on a plain click and keeps the browser's behaviour otherwise
 * (new tab with a modifier key or middle click). */
export function Link({
  to,
  ...props
}: { to: string } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  return (
    <a
      {...props}
      href={to}
      onClick={(event) => {
        props.onClick?.(event);
        if (event.defaultPrevented || event.button !== 0) return;
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    />
  );
}
