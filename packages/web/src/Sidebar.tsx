// Saved chats (newest first) with server-side full-text search, rename and delete; links to the API keys page,
// the studio's pages (datasets, fine-tunes, jobs, models, webhooks) and the notifications bell, today's token
// usage and sign-out. On a phone it is a drawer over the page.
import { useEffect, useRef, useState } from 'react';
import { NotificationsBell } from './account/Notifications.tsx';
import { api } from './common/api.ts';
import { useApp } from './common/app-state.tsx';
import { ConfirmDialog } from './common/ConfirmDialog.tsx';
import { formatCount } from './common/format.ts';
import { chatPath, Link, navigate, type Route } from './common/router.tsx';
import type { Chat } from './types.ts';

const studioLinks: [string, string, Route['page']][] = [
  ['/datasets', 'Datasets', 'datasets'],
  ['/finetune', 'New fine-tune', 'finetune'],
  ['/jobs', 'Jobs', 'jobs'],
  ['/models', 'Models', 'models'],
  ['/webhooks', 'Webhooks', 'webhooks'],
];

export function Sidebar({
  activeChatId,
  page,
  open,
  onClose,
}: {
  activeChatId: string | null;
  page: Route['page'];
  open: boolean;
  onClose: () => void;
}) {
  const app = useApp();
  const [query, setQuery] = useState('');
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Chat | null>(null);
  const newChatRef = useRef<HTMLButtonElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let current = true;
    // Typing fires many queries; only the last one, a moment after typing stops, is worth sending.
    const timer = setTimeout(
      () => {
        api.chats(query.trim()).then(
          (result) => current && (setChats(result.chats), setError(null)),
          (e: Error) => current && setError(e.message),
        );
      },
      query ? 250 : 0,
    );
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query, app.chatsVersion]);

  useEffect(() => {
    if (open) searchRef.current?.focus();
  }, [open]);

  async function rename(chat: Chat, title: string) {
    setRenaming(null);
    const trimmed = title.trim();
    if (!trimmed || trimmed === chat.title) return;
    try {
      await api.updateChat(chat.id, { title: trimmed });
      app.refreshChats();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function remove(chat: Chat) {
    setDeleting(null);
    try {
      await api.deleteChat(chat.id);
      app.refreshChats();
      if (chat.id === activeChatId) navigate('/');
      newChatRef.current?.focus();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const usage = app.usage;
  return (
    <aside
      id="sidebar"
      className="sidebar"
      aria-label="Chats and account"
      onKeyDown={(event) => {
        if (event.key === 'Escape' && open) onClose();
      }}
    >
      <div className="sidebar-head">
        <span className="brand">ownlm</span>
        <NotificationsBell />
        <button
          type="button"
          className="icon-button close-button"
          aria-label="Close the chat list"
          onClick={onClose}
        >
          ×
        </button>
      </div>
      <button
        ref={newChatRef}
        type="button"
        className="new-chat"
        onClick={() => {
          navigate('/');
          document.getElementById('composer-input')?.focus();
        }}
      >
        <span aria-hidden="true">+</span> New chat
      </button>
      <div className="search">
        <label htmlFor="chat-search" className="visually-hidden">
          Search chats
        </label>
        <input
          ref={searchRef}
          id="chat-search"
          type="search"
          placeholder="Search chats"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
        />
      </div>
      <nav className="chat-list" aria-label="Saved chats">
        {error && (
          <p role="alert" className="error small">
            {error}
          </p>
        )}
        {chats && chats.length === 0 && (
          <p className="muted small empty">{query ? 'No chat matches your search.' : 'No chats yet.'}</p>
        )}
        <ul>
          {chats?.map((chat) => (
            <li key={chat.id} className={chat.id === activeChatId ? 'active' : undefined}>
              {renaming === chat.id ? (
                <RenameInput
                  chat={chat}
                  onDone={(title) => rename(chat, title)}
                  onCancel={() => setRenaming(null)}
                />
              ) : (
                <>
                  <Link
                    to={chatPath(chat.id)}
                    className="chat-link"
                    aria-current={chat.id === activeChatId ? 'page' : undefined}
                    title={chat.title}
                  >
                    {chat.title || 'Untitled chat'}
                  </Link>
                  <span className="chat-actions">
                    <button
                      type="button"
                      className="icon-button"
                      aria-label={`Rename “${chat.title}”`}
                      title="Rename"
                      onClick={() => setRenaming(chat.id)}
                    >
                      <PencilIcon />
                    </button>
                    <button
                      type="button"
                      className="icon-button"
                      aria-label={`Delete “${chat.title}”`}
                      title="Delete"
                      onClick={() => setDeleting(chat)}
                    >
                      <TrashIcon />
                    </button>
                  </span>
                </>
              )}
            </li>
          ))}
        </ul>
      </nav>
      <div className="sidebar-foot">
        {usage && (
          <p
            className="usage small"
            title={`${formatCount(usage.promptTokens)} in, ${formatCount(usage.completionTokens)} out`}
          >
            Today: {formatCount(usage.promptTokens + usage.completionTokens)} tokens
            <span className="muted">
              {' '}
              ({formatCount(usage.promptTokens)} in · {formatCount(usage.completionTokens)} out)
            </span>
          </p>
        )}
        <nav className="studio-nav" aria-label="Fine-tuning studio">
          {studioLinks.map(([to, label, linkPage]) => (
            <Link
              key={to}
              to={to}
              className="foot-link"
              aria-current={page === linkPage ? 'page' : undefined}
            >
              {label}
            </Link>
          ))}
        </nav>
        <Link to="/keys" className="foot-link" aria-current={page === 'keys' ? 'page' : undefined}>
          API keys
        </Link>
        <div className="account">
          <span className="account-name" title={app.user.email}>
            {app.user.name || app.user.email}
          </span>
          <button type="button" className="link-button" onClick={() => void app.logout()}>
            Sign out
          </button>
        </div>
      </div>
      {deleting && (
        <ConfirmDialog
          title="Delete this chat?"
          message={`“${deleting.title}” and all its messages will be deleted. This cannot be undone.`}
          confirmLabel="Delete"
          onConfirm={() => void remove(deleting)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </aside>
  );
}

function RenameInput({
  chat,
  onDone,
  onCancel,
}: {
  chat: Chat;
  onDone: (title: string) => void;
  onCancel: () => void;
}) {
  const [title, setTitle] = useState(chat.title);
  // Enter or Esc unmounts the input, and some browsers then report a blur too; only the first outcome counts.
  const settled = useRef(false);
  const finish = (action: () => void) => {
    if (settled.current) return;
    settled.current = true;
    action();
  };
  return (
    <input
      className="rename-input"
      aria-label="Chat title"
      value={title}
      autoFocus
      onFocus={(event) => event.target.select()}
      onChange={(event) => setTitle(event.target.value)}
      onBlur={() => finish(() => onDone(title))}
      onKeyDown={(event) => {
        if (event.key === 'Enter') finish(() => onDone(title));
        if (event.key === 'Escape') {
          event.stopPropagation();
          finish(onCancel);
        }
      }}
    />
  );
}

function PencilIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <path
        d="M11 2.5l2.5 2.5L6 12.5 3 13l.5-3z"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.3"
        strokeLinejoin="round"
      />
    </svg>
  );
}

function TrashIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <path
        d="M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5h5.8l.6-8.5"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.3"
        strokeLinejoin="round"
      />
    </svg>
  );
}
