// The signed-in user's account: who they are, a password change (the other sessions are signed out), and
// signing out on every device at once.
import { useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { useConfirm } from '../common/ConfirmDialog.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { useAction } from '../common/requests.ts';
import type { User } from '../types.ts';

export function AccountPage() {
  const app = useApp();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [changed, setChanged] = useState(false);
  const action = useAction();

  function changePassword(event: FormEvent) {
    event.preventDefault();
    setChanged(false);
    void action.run(async () => {
      await api.changePassword(current, next);
      setCurrent('');
      setNext('');
      setChanged(true);
    });
  }

  const confirmSignOut = useConfirm((_user: User) => ({
    title: 'Sign out everywhere?',
    message:
      'Every browser signed in to this account, this one included, is signed out. API keys keep working.',
    confirmLabel: 'Sign out everywhere',
    onConfirm: () =>
      void action.run(async () => {
        await api.logoutEverywhere();
        await app.logout();
      }),
  }));

  return (
    <div className="account-page">
      <h1>Account</h1>
      <p>
        {app.user.name} <span className="muted">({app.user.email})</span>
      </p>
      <h2>Change password</h2>
      <form className="password-form" onSubmit={changePassword}>
        <label className="field">
          <span>Current password</span>
          <input
            type="password"
            autoComplete="current-password"
            value={current}
            required
            onChange={(e) => setCurrent(e.target.value)}
          />
        </label>
        <label className="field">
          <span>New password</span>
          <input
            type="password"
            autoComplete="new-password"
            minLength={8}
            value={next}
            required
            onChange={(e) => setNext(e.target.value)}
          />
        </label>
        <button type="submit" className="primary" disabled={action.busy || !current || next.length < 8}>
          Change password
        </button>
      </form>
      {changed && (
        <p role="status">
          Your password is changed. Other browsers signed in to this account were signed out.
        </p>
      )}
      <h2>Sessions</h2>
      <p className="muted">Lost a device, or signed in somewhere you should not have?</p>
      <button type="button" className="danger" onClick={() => confirmSignOut.ask(app.user)}>
        Sign out everywhere
      </button>
      <ErrorMessage message={action.error} />
      {confirmSignOut.dialog}
    </div>
  );
}
