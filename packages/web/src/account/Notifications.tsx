// The notifications bell: unread count, the list of recent notifications (a job ended) and mark-as-read.
// Polls while the page is open; a job page that sees its job end asks for a refresh at once.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../common/api.ts';
import { formatDate } from '../common/format.ts';
import { jobPath, Link } from '../common/router.tsx';
import type { Notification } from '../types.ts';

const POLL_MS = 15_000;
const listeners = new Set<() => void>();

/** Makes every mounted bell fetch the notifications now (called when a job is seen to end). */
export function refreshNotifications(): void {
  for (const listener of listeners) listener();
}

export function NotificationsBell() {
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const menu = useRef<HTMLDetailsElement>(null);

  const load = useCallback(() => {
    api.notifications().then(
      (result) => {
        setNotifications(result.notifications);
        setUnread(result.unread);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, []);

  useEffect(() => {
    load();
    listeners.add(load);
    const timer = setInterval(load, POLL_MS);
    return () => {
      listeners.delete(load);
      clearInterval(timer);
    };
  }, [load]);

  async function markRead(ids?: number[]) {
    try {
      setUnread((await api.markNotificationsRead(ids)).unread);
      load();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <details
      ref={menu}
      className="menu notifications"
      onKeyDown={(event) => {
        if (event.key !== 'Escape' || !event.currentTarget.open) return;
        event.preventDefault();
        event.currentTarget.open = false;
        event.currentTarget.querySelector('summary')?.focus();
      }}
    >
      <summary className="ghost bell" aria-label={`Notifications, ${unread} unread`}>
        <BellIcon />
        {unread > 0 && (
          <span className="count" aria-hidden="true">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </summary>
      <div className="menu-items notification-list">
        <div className="notification-head">
          <strong>Notifications</strong>
          {unread > 0 && (
            <button type="button" className="text-button" onClick={() => void markRead()}>
              Mark all read
            </button>
          )}
        </div>
        {error && <p className="error small">{error}</p>}
        {notifications.length === 0 && <p className="muted small">Nothing yet.</p>}
        <ul>
          {notifications.map((n) => (
            <li key={n.id} className={n.readAt ? undefined : 'unread'}>
              <div>
                <strong>{n.title}</strong>
                <p className="small">{n.body}</p>
                <span className="muted small">{formatDate(n.createdAt)}</span>
              </div>
              <div className="notification-actions">
                {n.jobId && (
                  <Link
                    to={jobPath(n.jobId)}
                    className="small"
                    onClick={() => {
                      menu.current?.removeAttribute('open');
                      if (!n.readAt) void markRead([n.id]);
                    }}
                  >
                    Open job
                  </Link>
                )}
                {!n.readAt && (
                  <button type="button" className="text-button" onClick={() => void markRead([n.id])}>
                    Mark read<span className="visually-hidden"> “{n.title}”</span>
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      </div>
    </details>
  );
}

function BellIcon() {
  return (
    <svg width="18" height="18" viewBox="0 0 20 20" aria-hidden="true">
      <path
        d="M10 3a5 5 0 0 0-5 5v3l-1.5 3h13L15 11V8a5 5 0 0 0-5-5zM8 16a2 2 0 0 0 4 0"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.5"
        strokeLinejoin="round"
      />
    </svg>
  );
}
