// Sign in or create an account. The server sets the session cookie; the CSRF token comes back in the body.
import { useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { useAction } from '../common/requests.ts';
import type { User } from '../types.ts';

export function AuthPage({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const action = useAction();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    void action.run(async () => {
      const session =
        mode === 'login'
          ? await api.login(email, password)
          : await api.register(email, password, String(form.get('name')));
      onSignedIn(session.user);
    });
  }

  const registering = mode === 'register';
  return (
    <main className="center-page">
      <div className="auth-card">
        <h1 className="auth-brand">ownlm</h1>
        <p className="muted">Your own language models, on your own machine.</p>
        <div className="tabs" role="tablist" aria-label="Account">
          {(['login', 'register'] as const).map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={mode === m}
              className={mode === m ? 'tab active' : 'tab'}
              onClick={() => {
                setMode(m);
                action.setError(null);
              }}
            >
              {m === 'login' ? 'Sign in' : 'Create account'}
            </button>
          ))}
        </div>
        <form onSubmit={submit} className="stack" aria-label={registering ? 'Create account' : 'Sign in'}>
          {registering && (
            <label className="field">
              <span>Name</span>
              <input name="name" autoComplete="name" required autoFocus />
            </label>
          )}
          <label className="field">
            <span>Email</span>
            <input name="email" type="email" autoComplete="email" required autoFocus={!registering} />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autoComplete={registering ? 'new-password' : 'current-password'}
              required
            />
          </label>
          <ErrorMessage message={action.error} />
          <button type="submit" className="primary" disabled={action.busy}>
            {registering ? 'Create account' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
