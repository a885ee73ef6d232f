// The signed-in sidebar: the notifications bell, the chats (ChatList), today's token usage, links to the studio's
// pages (datasets, fine-tunes, jobs, models, webhooks), the API keys page, the admin pages for admins, and
// sign-out. On a phone it is a
// drawer over the page.
import { NotificationsBell } from './account/Notifications.tsx';
import { ChatList } from './chat/ChatList.tsx';
import { useApp } from './common/app-state.tsx';
import { formatCount } from './common/format.ts';
import { Link, type Route } from './common/router.tsx';

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
      <ChatList activeChatId={activeChatId} open={open} />
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
        {app.user.role === 'admin' && (
          <Link to="/admin" className="foot-link" aria-current={page === 'admin' ? 'page' : undefined}>
            Admin
          </Link>
        )}
        <div className="account">
          <Link
            to="/account"
            className="account-name"
            title={app.user.email}
            aria-current={page === 'account' ? 'page' : undefined}
          >
            {app.user.name || app.user.email}
          </Link>
          <button type="button" className="link-button" onClick={() => void app.logout()}>
            Sign out
          </button>
        </div>
      </div>
    </aside>
  );
}
