// The admin area: one page with a tab bar, each tab an admin page of its own (common/routes.ts ADMIN_TABS
// lists them in order). Only admins see the link to it; the server refuses its API to everyone else.
import type { ReactNode } from 'react';
import { Link } from '../common/router.tsx';
import { ADMIN_TABS, adminPath, type AdminTab } from '../common/routes.ts';
import { SafetyPage } from './SafetyPage.tsx';

const tabs: Record<AdminTab, { label: string; page: () => ReactNode }> = {
  safety: { label: 'Safety', page: () => <SafetyPage /> },
};

export function AdminPage({ tab }: { tab: AdminTab }) {
  return (
    <div className="admin-area">
      <nav className="admin-tabs" aria-label="Admin">
        {ADMIN_TABS.map((name) => (
          <Link key={name} to={adminPath(name)} aria-current={name === tab ? 'page' : undefined}>
            {tabs[name].label}
          </Link>
        ))}
      </nav>
      {tabs[tab].page()}
    </div>
  );
}
