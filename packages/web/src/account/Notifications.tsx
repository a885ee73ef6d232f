// The notifications bell: unread count, the list of recent notifications (a job ended) and mark-as-read.
// Polls while the page is open; a job page that sees its job end asks for a refresh at once.
import { useEffect, useRef } from 'react';
import { api } from '../common/api.ts';
import { formatDate } from '../common/format.ts';
import { closeMenuOnEscape } from '../common/menu.ts';
import { BellIcon } from '../common/icons.tsx';
import { useAction, useLoad } from '../common/requests.ts';
import { jobPath, Link } from '../common/router.tsx';

const POLL_MS = 15_000;
const listeners = new Set<() => void>();

/** Makes every mounted bell fetch the notifications now (called when a job is seen to end). */
export function refreshNotifications(): void {
  for (const listener of listeners) listener();
}

export function NotificationsBell() {
  const loaded = useLoad(() => api.notifications(), []);
  const { reload } = loaded;
  const action = useAction();
  const notifications = loaded.value?.notifications ?? [];
  const unread = loaded.value?.unread ?? 0;
  const error = action.error ?? loaded.error;
  const menu = useRef<HTMLDetailsElement>(null);

  useEffect(() => {
    listeners.add(reload);
    const timer = setInterval(reload, POLL_MS);
    return () => {
      listeners.delete(reload);
      clearInterval(timer);
    };
  }, [reload]);

  const markRead = (ids?: number[]) =>
    action.run(async () => {
      const result = await api.markNotificationsRead(ids);
      loaded.setValue((value) => value && { ...value, unread: result.unread });
      reload();
    });

  return (
    <details ref={menu} className="menu notifications" onKeyDown={closeMenuOnEscape}>
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
