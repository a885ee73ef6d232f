// API keys: create with the scopes the key opens (the secret is shown once), list, revoke.
import { useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { useConfirm } from '../common/ConfirmDialog.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatDate } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import { useApp } from '../common/app-state.tsx';
import type { ApiKey, ApiKeyScope } from '../types.ts';
import { SecretOnce } from './SecretOnce.tsx';

/** What each scope opens, as the form and the list say it. */
const SCOPES: { scope: ApiKeyScope; label: string; adminOnly: boolean }[] = [
  { scope: 'inference', label: 'Inference: the OpenAI-compatible API (/v1)', adminOnly: false },
  { scope: 'platform', label: 'Platform: chats, datasets, jobs and models as you (/api)', adminOnly: false },
  { scope: 'admin', label: 'Admin: the admin routes too', adminOnly: true },
];

export function KeysPage() {
  const app = useApp();
  const [scopes, setScopes] = useState<ApiKeyScope[]>(['inference']);
  const loaded = useLoad(() => api.keys().then((result) => result.keys), []);
  const keys = loaded.value;
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ key: ApiKey; secret: string } | null>(null);
  const action = useAction();

  function create(event: FormEvent) {
    event.preventDefault();
    void action.run(async () => {
      setCreated(await api.createKey(name.trim(), scopes));
      setName('');
      setScopes(['inference']);
      loaded.reload();
    });
  }

  const confirmRevoke = useConfirm((key: ApiKey) => ({
    title: 'Revoke this key?',
    message: `Programs using “${key.name}” (${key.prefix}…) will stop working at once.`,
    confirmLabel: 'Revoke',
    onConfirm: () =>
      void action.run(async () => {
        await api.deleteKey(key.id);
        if (created?.key.id === key.id) setCreated(null);
        loaded.reload();
      }),
  }));

  return (
    <div className="keys-page">
      <h1>API keys</h1>
      <p className="muted">
        Keys let programs use your models through the OpenAI-compatible API at{' '}
        <code>{window.location.origin}/v1</code>. Send one as <code>Authorization: Bearer KEY</code>. A key
        opens only what its scopes say; inference is the default.
      </p>
      <form className="key-form" onSubmit={create}>
        <label className="field">
          <span>Name</span>
          <input
            value={name}
            placeholder="e.g. laptop scripts"
            required
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        <fieldset className="checkbox-row">
          <legend>Opens</legend>
          {SCOPES.filter((s) => !s.adminOnly || app.user.role === 'admin').map(({ scope, label }) => (
            <label key={scope}>
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) =>
                  setScopes((now) =>
                    e.target.checked ? [...now, scope] : now.filter((other) => other !== scope),
                  )
                }
              />
              {label}
            </label>
          ))}
        </fieldset>
        <button type="submit" className="primary" disabled={!name.trim() || scopes.length === 0}>
          Create key
        </button>
      </form>
      {created && (
        <SecretOnce id="new-secret" label="New API key" secret={created.secret} onError={action.setError}>
          Copy your new key “{created.key.name}” now.
        </SecretOnce>
      )}
      <ErrorMessage message={action.error ?? loaded.error} />
      {keys && keys.length === 0 && <p className="muted">No keys yet.</p>}
      {keys && keys.length > 0 && (
        <table className="keys-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Opens</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>{formatDate(key.createdAt)}</td>
                <td>{formatDate(key.lastUsedAt)}</td>
                <td>
                  <button
                    type="button"
                    className="text-button danger-text"
                    onClick={() => confirmRevoke.ask(key)}
                  >
                    Revoke<span className="visually-hidden"> {key.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {confirmRevoke.dialog}
    </div>
  );
}
