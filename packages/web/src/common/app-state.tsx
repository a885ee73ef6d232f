// What the signed-in pages share, provided by App: the user, models, today's usage and refresh signals.
import { createContext, useContext } from 'react';
import type { Model, Usage, User } from '../types.ts';

export interface AppState {
  user: User;
  models: Model[] | null;
  defaultModelId: string | null;
  usage: Usage | null;
  /** Changes whenever the chat list may be stale (a chat created, renamed, deleted or answered). */
  chatsVersion: number;
  refreshModels: () => Promise<void>;
  refreshUsage: () => void;
  refreshChats: () => void;
  logout: () => Promise<void>;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (!state) throw new Error('useApp outside <App>');
  return state;
}
