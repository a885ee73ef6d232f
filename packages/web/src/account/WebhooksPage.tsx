// Webhooks for job events: add an endpoint (its signing secret is shown once), delete one, and read its
// delivery log (state, attempts, the receiver's status or the error).
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { useConfirm } from '../common/ConfirmDialog.tsx';
import { DataTable } from '../common/DataTable.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatDate } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import type { Webhook } from '../types.ts';
import { SecretOnce } from './SecretOnce.tsx';

const jobEvents = ['job.queued', 'job.started', 'job.succeeded', 'job.failed', 'job.cancelled'];

export function WebhooksPage() {
  const loaded = useLoad(() => api.webhooks().then((result) => result.webhooks), []);
  const webhooks = loaded.value;
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>([]);
  const [created, setCreated] = useState<{ webhook: Webhook; secret: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const action = useAction();

  useEffect(() => {
    document.title = 'Webhooks · ownlm';
  }, []);

  function create(event: FormEvent) {
    event.preventDefault();
    void action.run(async () => {
      setCreated(await api.createWebhook(url.trim(), events));
      setUrl('');
      setEvents([]);
      loaded.reload();
    });
  }

  const confirmDelete = useConfirm((webhook: Webhook) => ({
    title: 'Delete this webhook?',
    message: `${webhook.url} will get no more job events; its delivery log goes too.`,
    confirmLabel: 'Delete',
    onConfirm: () =>
      void action.run(async () => {
        await api.deleteWebhook(webhook.id);
        if (created?.webhook.id === webhook.id) setCreated(null);
        loaded.reload();
      }),
  }));

  return (
    <div className="studio-page">
      <h1>Webhooks</h1>
      <p className="muted">
        ownlm posts job events to these URLs, signed: the <code>ownlm-webhook-signature</code> header is{' '}
        <code>v1=</code> and the hex HMAC-SHA256 of <code>timestamp.body</code> with the webhook's secret.
      </p>
      <form className="card form-grid" onSubmit={create}>
        <label className="field wide">
          <span>Endpoint URL</span>
          <input
            type="url"
            required
            value={url}
            placeholder="https://example.com/ownlm-hook"
            onChange={(e) => setUrl(e.target.value)}
          />
        </label>
        <fieldset className="field checkbox-row wide">
          <legend>Events (none checked: all)</legend>
          {jobEvents.map((name) => (
            <label key={name}>
              <input
                type="checkbox"
                checked={events.includes(name)}
                onChange={(e) =>
                  setEvents(e.target.checked ? [...events, name] : events.filter((x) => x !== name))
                }
              />{' '}
              <code>{name}</code>
            </label>
          ))}
        </fieldset>
        <div className="form-actions wide">
          <button type="submit" className="primary" disabled={!url.trim()}>
            Add webhook
          </button>
        </div>
      </form>
      {created && (
        <SecretOnce
          id="webhook-secret"
          label="Webhook secret"
          secret={created.secret}
          onError={action.setError}
        >
          Copy the signing secret for {created.webhook.url} now.
        </SecretOnce>
      )}
      <ErrorMessage message={action.error ?? loaded.error} />
      {webhooks && webhooks.length === 0 && <p className="muted">No webhooks yet.</p>}
      <ul className="webhook-list">
        {webhooks?.map((webhook) => (
          <li key={webhook.id} className="card">
            <div className="section-head">
              <div>
                <code className="webhook-url">{webhook.url}</code>
                <p className="muted small">
                  {webhook.events.length ? webhook.events.join(', ') : 'all job events'} · added{' '}
                  {formatDate(webhook.createdAt)}
                  {webhook.active ? '' : ' · inactive'}
                </p>
              </div>
              <div className="page-actions">
                <button
                  type="button"
                  aria-expanded={open === webhook.id}
                  onClick={() => setOpen(open === webhook.id ? null : webhook.id)}
                >
                  Deliveries
                </button>
                <button
                  type="button"
                  className="text-button danger-text"
                  onClick={() => confirmDelete.ask(webhook)}
                >
                  Delete<span className="visually-hidden"> {webhook.url}</span>
                </button>
              </div>
            </div>
            {open === webhook.id && <Deliveries id={webhook.id} />}
          </li>
        ))}
      </ul>
      {confirmDelete.dialog}
    </div>
  );
}

function Deliveries({ id }: { id: string }) {
  const loaded = useLoad(() => api.deliveries(id).then((result) => result.deliveries), [id]);
  const deliveries = loaded.value;
  if (loaded.error) return <ErrorMessage message={loaded.error} />;
  if (!deliveries) return null;
  if (deliveries.length === 0) return <p className="muted small">No deliveries yet.</p>;
  return (
    <DataTable columns={['Event', 'State', { label: 'Attempts', number: true }, 'Response', 'Sent']}>
      {deliveries.map((d) => (
        <tr key={d.id}>
          <td>
            <code>{d.event}</code>
          </td>
          <td>
            <span className={`badge delivery-${d.state}`}>{d.state}</span>
          </td>
          <td className="number">{d.attempts}</td>
          <td>{d.responseStatus ?? d.lastError ?? '—'}</td>
          <td>{formatDate(d.deliveredAt ?? d.createdAt)}</td>
        </tr>
      ))}
    </DataTable>
  );
}
