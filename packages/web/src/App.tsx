// The app shell: loads the session, shows the login page or the signed-in layout (sidebar + page), and holds
// what several pages share (user, models, today's usage, the chat list's refresh signal).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AuthPage } from './account/AuthPage.tsx';
import { AdminPage } from './admin/AdminPage.tsx';
import { AccountPage } from './account/AccountPage.tsx';
import { KeysPage } from './account/KeysPage.tsx';
import { WebhooksPage } from './account/WebhooksPage.tsx';
import { ChatPage } from './chat/ChatPage.tsx';
import { api, ApiError, setUnauthorizedHandler } from './common/api.ts';
import { AppContext, type AppState } from './common/app-state.tsx';
import { useRoute, type Route } from './common/router.tsx';
import { Sidebar } from './Sidebar.tsx';
import { DatasetsPage } from './studio/datasets/DatasetsPage.tsx';
import { FinetuneForm } from './studio/FinetuneForm.tsx';
import { JobPage } from './studio/JobPage.tsx';
import { JobsPage } from './studio/JobsPage.tsx';
import { ModelsPage } from './studio/ModelsPage.tsx';
import type { Model, Usage, User } from './types.ts';

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    setUnauthorizedHandler(() => setUser(null));
    api
      .session()
      .then((session) => setUser(session.user))
      .catch((error: Error) => setLoadError(error.message));
  }, []);

  if (loadError) {
    return (
      <main className="center-page">
        <p role="alert" className="error">
          Could not reach the ownlm server: {loadError} Reload the page to try again.
        </p>
      </main>
    );
  }
  if (user === undefined) return <main className="center-page" aria-busy="true" />;
  if (user === null) return <AuthPage onSignedIn={setUser} />;
  return <SignedIn user={user} onSignedOut={() => setUser(null)} />;
}

function SignedIn({ user, onSignedOut }: { user: User; onSignedOut: () => void }) {
  const route = useRoute();
  const [models, setModels] = useState<Model[] | null>(null);
  const [defaultModelId, setDefaultModelId] = useState<string | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [chatsVersion, setChatsVersion] = useState(0);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);

  const refreshModels = useCallback(async () => {
    const result = await api.models();
    setModels(result.models);
    setDefaultModelId(result.default);
  }, []);
  const refreshUsage = useCallback(() => {
    api.usageToday().then(setUsage, () => setUsage(null));
  }, []);
  const refreshChats = useCallback(() => setChatsVersion((v) => v + 1), []);
  const logout = useCallback(async () => {
    try {
      await api.logout();
    } catch (error) {
      // An expired session is as good as logged out.
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    onSignedOut();
  }, [onSignedOut]);

  useEffect(() => {
    refreshModels().catch(() => setModels([]));
    refreshUsage();
  }, [refreshModels, refreshUsage]);

  // A page change on a phone closes the drawer, which would otherwise cover the page just chosen.
  const routeKey = JSON.stringify(route);
  useEffect(() => setSidebarOpen(false), [routeKey]);
  const closeSidebar = () => {
    setSidebarOpen(false);
    menuButton.current?.focus();
  };

  const state = useMemo<AppState>(
    () => ({
      user,
      models,
      defaultModelId,
      usage,
      chatsVersion,
      refreshModels,
      refreshUsage,
      refreshChats,
      logout,
    }),
    [user, models, defaultModelId, usage, chatsVersion, refreshModels, refreshUsage, refreshChats, logout],
  );

  return (
    <AppContext.Provider value={state}>
      <div className={`layout${sidebarOpen ? ' sidebar-open' : ''}`}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <Sidebar
          activeChatId={route.page === 'chat' ? route.chatId : null}
          page={route.page}
          open={sidebarOpen}
          onClose={closeSidebar}
        />
        <div className="scrim" hidden={!sidebarOpen} onClick={closeSidebar} />
        <div className="page">
          <header className="topbar">
            <button
              ref={menuButton}
              type="button"
              className="icon-button menu-button"
              aria-label="Open the chat list"
              aria-controls="sidebar"
              aria-expanded={sidebarOpen}
              onClick={() => setSidebarOpen(true)}
            >
              <MenuIcon />
            </button>
            <span className="brand">ownlm</span>
          </header>
          <main id="main" tabIndex={-1}>
            <RoutePage route={route} />
          </main>
        </div>
      </div>
    </AppContext.Provider>
  );
}

function RoutePage({ route }: { route: Route }) {
  switch (route.page) {
    case 'chat':
      return <ChatPage chatId={route.chatId} />;
    case 'keys':
      return <KeysPage />;
    case 'account':
      return <AccountPage />;
    case 'datasets':
      return <DatasetsPage datasetId={route.datasetId} />;
    case 'finetune':
      return <FinetuneForm />;
    case 'jobs':
      return route.jobId ? <JobPage key={route.jobId} id={route.jobId} /> : <JobsPage />;
    case 'models':
      return <ModelsPage />;
    case 'webhooks':
      return <WebhooksPage />;
    case 'admin':
      return <AdminPage tab={route.tab} />;
  }
}

function MenuIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 20 20" aria-hidden="true">
      <path d="M3 5h14M3 10h14M3 15h14" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
    </svg>
  );
}
