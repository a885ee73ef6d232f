// The sidebar's chats: a new-chat button, server-side full-text search, and the saved chats (newest first) with
// rename and delete.
import { useEffect, useRef, useState } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { useConfirm } from '../common/ConfirmDialog.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { PencilIcon, TrashIcon } from '../common/icons.tsx';
import { useAction } from '../common/requests.ts';
import { chatPath, Link, navigate } from '../common/router.tsx';
import type { Chat } from '../types.ts';

/** `open`: the drawer (on a phone) has just opened, so the search box takes the focus. */
export function ChatList({ activeChatId, open }: { activeChatId: string | null; open: boolean }) {
  const app = useApp();
  const [query, setQuery] = useState('');
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
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

  const action = useAction();

  function rename(chat: Chat, title: string) {
    setRenaming(null);
    const trimmed = title.trim();
    if (!trimmed || trimmed === chat.title) return;
    void action.run(async () => {
      await api.updateChat(chat.id, { title: trimmed });
      app.refreshChats();
    });
  }

  const confirmDelete = useConfirm((chat: Chat) => ({
    title: 'Delete this chat?',
    message: `“${chat.title}” and all its messages will be deleted. This cannot be undone.`,
    confirmLabel: 'Delete',
    onConfirm: () =>
      void action.run(async () => {
        await api.deleteChat(chat.id);
        app.refreshChats();
        if (chat.id === activeChatId) navigate('/');
        newChatRef.current?.focus();
      }),
  }));

  return (
    <>
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
        <ErrorMessage message={action.error ?? error} className="small" />
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
                      onClick={() => confirmDelete.ask(chat)}
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
      {confirmDelete.dialog}
    </>
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
