// Model versions (kind, base, size, quantization, created, who may use it), one version's lineage and
// before/after report with its Markdown/HTML exports, publishing a user's version to everyone (admins), and
// aliases: deploy a version under an alias, and roll back to the one before.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { DataTable } from '../common/DataTable.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatBytes, formatDate } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import { jobPath, Link, navigate } from '../common/router.tsx';
import type { Model } from '../types.ts';
import { lineageRows } from './studio-format.ts';

const label = (m: Model) => `${m.name}:${m.version}`;

function baseLabel(model: Model, byId: Map<string, Model>): string {
  if (!model.baseVersionId) return '—';
  const base = byId.get(model.baseVersionId);
  return base ? label(base) : model.baseVersionId;
}

export function ModelsPage() {
  const app = useApp();
  const [selected, setSelected] = useState<string | null>(() =>
    new URLSearchParams(window.location.search).get('version'),
  );
  const models = app.models ?? [];
  const byId = new Map(models.map((m) => [m.id, m]));
  const current = selected ? byId.get(selected) : undefined;

  useEffect(() => {
    document.title = 'Models · ownlm';
    // The list may have grown since the app loaded (a fine-tune just registered a version).
    void app.refreshModels();
  }, [app.refreshModels]);

  const select = (id: string) => {
    setSelected(id);
    navigate(`/models?version=${encodeURIComponent(id)}`, { replace: true });
  };

  return (
    <div className="studio-page">
      <h1>Models</h1>
      {app.models && models.length === 0 && <p className="muted">No model versions yet.</p>}
      {models.length > 0 && (
        <DataTable
          className="models-table"
          columns={[
            'Version',
            'Kind',
            'Base',
            { label: 'Size', number: true },
            'Quantization',
            'Created',
            'Used by',
            'Aliases',
          ]}
        >
          {models.map((m) => (
            <tr key={m.id} className={m.id === selected ? 'selected' : undefined}>
              <td>
                <button
                  type="button"
                  className="link-button version-button"
                  aria-pressed={m.id === selected}
                  onClick={() => select(m.id)}
                >
                  {label(m)}
                </button>
              </td>
              <td>{m.kind ?? 'model'}</td>
              <td>{baseLabel(m, byId)}</td>
              <td className="number">{formatBytes(m.sizeBytes)}</td>
              <td>{m.quantization ?? '—'}</td>
              <td>{m.createdAt ? formatDate(m.createdAt) : '—'}</td>
              <td>{m.shared ? 'everyone' : 'its owner'}</td>
              <td>
                {m.aliases.map((a) => (
                  <span key={a} className="badge">
                    {a}
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {current && <VersionDetail key={current.id} model={current} />}
      {models.length > 0 && <Aliases models={models} />}
    </div>
  );
}

function VersionDetail({ model }: { model: Model }) {
  const app = useApp();
  const publish = useAction();
  const [reportId, setReportId] = useState<string | null>(null);
  const rows = lineageRows(model.lineage);
  const jobId = typeof model.lineage?.job === 'string' ? model.lineage.job : null;

  // The report is named in the lineage, or in the result of the job that made the version.
  useEffect(() => {
    const named = model.lineage?.reportId;
    if (typeof named === 'string') return setReportId(named);
    if (!jobId) return;
    let current = true;
    api.job(jobId).then(
      ({ job }) => {
        const id = job.result?.reportId;
        if (current && typeof id === 'string') setReportId(id);
      },
      () => {
        // A job deleted or another user's: the lineage still shows its id.
      },
    );
    return () => {
      current = false;
    };
  }, [model.lineage, jobId]);

  return (
    <section className="card" aria-labelledby="version-title">
      <h2 id="version-title">{label(model)}</h2>
      {!model.shared && (
        <p>
          Only its owner (and admins) can use this version.{' '}
          {app.user.role === 'admin' && (
            <button
              type="button"
              className="text-button"
              disabled={publish.busy}
              onClick={() =>
                void publish.run(async () => {
                  await api.publishModel(model.id);
                  await app.refreshModels();
                })
              }
            >
              Publish to everyone
            </button>
          )}
        </p>
      )}
      <ErrorMessage message={publish.error} />
      <h3>Lineage</h3>
      {rows.length === 0 ? (
        <p className="muted">No lineage was recorded for this version.</p>
      ) : (
        <dl className="params-list lineage">
          {rows.map(([key, value]) => (
            <div key={key}>
              <dt>{key}</dt>
              <dd>
                {key === 'job' && jobId ? <Link to={jobPath(jobId)}>{value}</Link> : <code>{value}</code>}
              </dd>
            </div>
          ))}
        </dl>
      )}
      {reportId && <ReportView id={reportId} />}
    </section>
  );
}

function ReportView({ id }: { id: string }) {
  const loaded = useLoad(() => api.report(id).then((result) => result.report), [id]);
  const report = loaded.value;

  return (
    <section className="report" aria-labelledby="report-title">
      <div className="section-head">
        <h3 id="report-title">Before and after</h3>
        <span className="small">
          Export:{' '}
          <a href={api.reportUrl(id, 'md')} download>
            Markdown
          </a>{' '}
          ·{' '}
          <a href={api.reportUrl(id, 'html')} download>
            HTML
          </a>
        </span>
      </div>
      <ErrorMessage message={loaded.error} />
      {report && (
        <>
          <p className="muted small">
            {report.baseModel} → {report.tunedModel} on {report.dataset}; held out:{' '}
            {report.heldOut.conversations} conversations, {report.heldOut.assistantTokens} assistant tokens.
          </p>
          <table className="data-table perplexity-table">
            <thead>
              <tr>
                <th scope="col">Perplexity on held-out assistant tokens</th>
                <th scope="col" className="number">
                  Base
                </th>
                <th scope="col" className="number">
                  Tuned
                </th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row">lower is better</th>
                <td className="number">{report.perplexity.base.toFixed(3)}</td>
                <td className="number">
                  <strong>{report.perplexity.tuned.toFixed(3)}</strong>
                </td>
              </tr>
            </tbody>
          </table>
          {report.scenarios.map((s, i) => (
            <div key={i} className="scenario">
              <p className="scenario-prompt">
                <strong>Prompt:</strong> {s.prompt}
              </p>
              <div className="side-by-side">
                <div>
                  <span className="turn-role">base</span>
                  <p>{s.base}</p>
                </div>
                <div>
                  <span className="turn-role">tuned</span>
                  <p>{s.tuned}</p>
                </div>
              </div>
            </div>
          ))}
        </>
      )}
    </section>
  );
}

function Aliases({ models }: { models: Model[] }) {
  const app = useApp();
  const [alias, setAlias] = useState('default');
  const [target, setTarget] = useState(models[0].id);
  const [previous, setPrevious] = useState<{ alias: string; versionId: string } | null>(null);
  const [status, setStatus] = useState('');
  const action = useAction();
  const aliases = models.flatMap((m) => m.aliases.map((a) => ({ alias: a, model: m })));

  const point = (name: string, versionId: string, rollback: boolean) =>
    action.run(async () => {
      const before = aliases.find((a) => a.alias === name)?.model;
      await api.setAlias(name, versionId);
      await app.refreshModels();
      setPrevious(
        !rollback && before && before.id !== versionId ? { alias: name, versionId: before.id } : null,
      );
      const model = models.find((m) => m.id === versionId);
      setStatus(`${name} now serves ${model ? label(model) : versionId}.`);
    });

  const deploy = (event: FormEvent) => {
    event.preventDefault();
    void point(alias.trim(), target, false);
  };
  const rollbackTo = previous && models.find((m) => m.id === previous.versionId);

  return (
    <section aria-labelledby="aliases-title">
      <h2 id="aliases-title">Aliases</h2>
      <p className="muted small">
        Clients ask for a model by alias; pointing it at another version deploys that version at once.
      </p>
      <ul className="plain-list">
        {aliases.map(({ alias: name, model }) => (
          <li key={name}>
            <code>{name}</code> → {label(model)}
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={deploy}>
        <label className="field">
          <span>Alias</span>
          <input value={alias} required onChange={(e) => setAlias(e.target.value)} />
        </label>
        <label className="field">
          <span>Version</span>
          <select value={target} onChange={(e) => setTarget(e.target.value)}>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {label(m)}
                {m.kind === 'adapter' ? ' (adapter)' : ''}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={!alias.trim()}>
          Deploy
        </button>
      </form>
      {previous && rollbackTo && (
        <button type="button" onClick={() => void point(previous.alias, previous.versionId, true)}>
          Roll back {previous.alias} to {label(rollbackTo)}
        </button>
      )}
      <p className="small" role="status">
        {status}
      </p>
      <ErrorMessage message={action.error} />
    </section>
  );
}
