// Conversation datasets: upload a JSONL file (every rejected line shown with its number and reason), generate a
// synthetic one, and for one dataset its statistics, length histogram, paged preview and delete.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../common/api.ts';
import { useApp } from '../../common/app-state.tsx';
import { ConfirmDialog } from '../../common/ConfirmDialog.tsx';
import { formatCount, formatDate } from '../../common/format.ts';
import { datasetPath, Link, navigate } from '../../common/router.tsx';
import type { Conversation, Dataset, DatasetFormat, DatasetStats, SyntheticGenerator } from '../../types.ts';
import { linearScale } from '../chart.ts';
import { bucketLabel } from '../studio-format.ts';

export function DatasetsPage({ datasetId }: { datasetId: string | null }) {
  return datasetId ? <DatasetDetail key={datasetId} id={datasetId} /> : <DatasetList />;
}

function DatasetList() {
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    document.title = 'Datasets · ownlm';
    api.datasets().then(
      (result) => setDatasets(result.datasets),
      (e: Error) => setError(e.message),
    );
  }, []);

  return (
    <div className="studio-page">
      <h1>Datasets</h1>
      <p className="muted">
        Conversations to fine-tune on, one JSON object a line: OpenAI chat (<code>{'{"messages":[…]}'}</code>
        ), ShareGPT or Alpaca.
      </p>
      <UploadForm />
      <SyntheticForm />
      <h2>Your datasets</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {datasets && datasets.length === 0 && <p className="muted">No datasets yet.</p>}
      {datasets && datasets.length > 0 && (
        <div className="table-scroll">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Format</th>
                <th scope="col" className="number">
                  Conversations
                </th>
                <th scope="col" className="number">
                  Rejected lines
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {datasets.map((dataset) => (
                <tr key={dataset.id}>
                  <td>
                    <Link to={datasetPath(dataset.id)}>{dataset.name}</Link>
                  </td>
                  <td>{dataset.sourceFormat}</td>
                  <td className="number">{formatCount(dataset.conversations)}</td>
                  <td className="number">{formatCount(dataset.rejectedCount)}</td>
                  <td>{formatDate(dataset.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function UploadForm() {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [format, setFormat] = useState<DatasetFormat>('auto');
  const [validation, setValidation] = useState('0.1');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function upload(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const { dataset } = await api.uploadDataset(file, {
        name: name.trim() || file.name.replace(/\.jsonl?$/i, ''),
        format,
        validation: Number(validation),
      });
      navigate(datasetPath(dataset.id));
    } catch (e) {
      // A file with no valid conversation: the message lists every rejected line.
      setError((e as Error).message);
      setBusy(false);
    }
  }

  return (
    <form className="card form-grid" onSubmit={upload} aria-labelledby="upload-title">
      <h2 id="upload-title" className="wide">
        Upload a JSONL file
      </h2>
      <label className="field wide">
        <span>File</span>
        <input
          type="file"
          accept=".jsonl,.json,.ndjson,.txt,application/x-ndjson,application/json,text/plain"
          required
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
      </label>
      <label className="field">
        <span>Name</span>
        <input
          value={name}
          placeholder={file?.name ?? 'e.g. support-voice'}
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <label className="field">
        <span>Format</span>
        <select value={format} onChange={(e) => setFormat(e.target.value as DatasetFormat)}>
          <option value="auto">Detect from the first line</option>
          <option value="openai">OpenAI chat</option>
          <option value="sharegpt">ShareGPT</option>
          <option value="alpaca">Alpaca</option>
        </select>
      </label>
      <label className="field">
        <span>Validation fraction</span>
        <input
          type="number"
          min="0"
          max="0.5"
          step="0.01"
          required
          value={validation}
          onChange={(e) => setValidation(e.target.value)}
        />
      </label>
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={!file || busy}>
          {busy ? 'Uploading…' : 'Upload'}
        </button>
      </div>
      {error && (
        <p role="alert" className="error wide preformatted">
          {error}
        </p>
      )}
    </form>
  );
}

function SyntheticForm() {
  const app = useApp();
  const [name, setName] = useState('synthetic');
  const [count, setCount] = useState('50');
  const [seed, setSeed] = useState('1');
  const [validation, setValidation] = useState('0.1');
  const [kind, setKind] = useState<SyntheticGenerator['kind']>('template');
  const [model, setModel] = useState('');
  const [baseUrl, setBaseUrl] = useState('https://api.openai.com/v1');
  const [apiKey, setApiKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const localModels = app.models?.filter((m) => m.kind !== 'adapter') ?? [];

  async function generate(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const generator: SyntheticGenerator =
      kind === 'template'
        ? { kind }
        : kind === 'model'
          ? { kind, model: model || localModels[0]?.id || '' }
          : { kind, baseUrl: baseUrl.trim(), apiKey, model: model.trim() };
    try {
      const { dataset } = await api.createSyntheticDataset({
        name: name.trim(),
        count: Number(count),
        seed: Number(seed),
        validation: Number(validation),
        generator,
      });
      navigate(datasetPath(dataset.id));
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  }

  return (
    <details className="card">
      <summary>
        <h2>Generate a synthetic dataset</h2>
      </summary>
      <form className="form-grid" onSubmit={generate}>
        <p className="muted small wide">
          Personas × conversation arcs × topics, written from templates or by a model, then deduplicated and
          scrubbed of personal data.
        </p>
        <label className="field">
          <span>Name</span>
          <input value={name} required onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="field">
          <span>Conversations</span>
          <input
            type="number"
            min="1"
            step="1"
            required
            value={count}
            onChange={(e) => setCount(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Seed</span>
          <input type="number" step="1" required value={seed} onChange={(e) => setSeed(e.target.value)} />
        </label>
        <label className="field">
          <span>Validation fraction</span>
          <input
            type="number"
            min="0"
            max="0.5"
            step="0.01"
            required
            value={validation}
            onChange={(e) => setValidation(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Written by</span>
          <select
            value={kind}
            onChange={(e) => {
              setKind(e.target.value as SyntheticGenerator['kind']);
              setModel('');
            }}
          >
            <option value="template">Templates (no model needed)</option>
            <option value="model">A model on this server</option>
            <option value="openai">An OpenAI-compatible endpoint</option>
          </select>
        </label>
        {kind === 'model' && (
          <label className="field">
            <span>Model</span>
            <select value={model || localModels[0]?.id || ''} onChange={(e) => setModel(e.target.value)}>
              {localModels.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} · {m.version}
                </option>
              ))}
            </select>
          </label>
        )}
        {kind === 'openai' && (
          <>
            <label className="field">
              <span>Endpoint</span>
              <input type="url" required value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} />
            </label>
            <label className="field">
              <span>API key</span>
              <input
                type="password"
                autoComplete="off"
                value={apiKey}
                onChange={(e) => setApiKey(e.target.value)}
              />
            </label>
            <label className="field">
              <span>Model name</span>
              <input
                required
                value={model}
                placeholder="e.g. gpt-4o-mini"
                onChange={(e) => setModel(e.target.value)}
              />
            </label>
          </>
        )}
        <div className="form-actions wide">
          <button type="submit" className="primary" disabled={busy || !name.trim()}>
            {busy ? 'Generating…' : 'Generate'}
          </button>
        </div>
        {error && (
          <p role="alert" className="error wide preformatted">
            {error}
          </p>
        )}
      </form>
    </details>
  );
}

function DatasetDetail({ id }: { id: string }) {
  const [dataset, setDataset] = useState<Dataset | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);

  useEffect(() => {
    api.dataset(id).then(
      (result) => {
        setDataset(result.dataset);
        document.title = `${result.dataset.name} · ownlm`;
      },
      (e: Error) => setError(e.message),
    );
  }, [id]);

  async function remove() {
    setDeleting(false);
    try {
      await api.deleteDataset(id);
      navigate('/datasets');
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <div className="studio-page">
      <p className="breadcrumb small">
        <Link to="/datasets">Datasets</Link>
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {dataset && (
        <>
          <div className="page-head">
            <h1>{dataset.name}</h1>
            <div className="page-actions">
              <Link className="button primary" to={`/finetune?dataset=${encodeURIComponent(dataset.id)}`}>
                Fine-tune on it
              </Link>
              <button type="button" className="danger-text" onClick={() => setDeleting(true)}>
                Delete
              </button>
            </div>
          </div>
          <p className="muted">
            {dataset.sourceFormat} · {formatCount(dataset.conversations)} conversations (
            {formatCount(dataset.trainConversations)} train, {formatCount(dataset.validationConversations)}{' '}
            validation) · uploaded {formatDate(dataset.createdAt)}
          </p>
          <Rejected dataset={dataset} />
          <Statistics stats={dataset.stats} />
          <Preview dataset={dataset} />
        </>
      )}
      {deleting && dataset && (
        <ConfirmDialog
          title="Delete this dataset?"
          message={`“${dataset.name}” and its ${formatCount(dataset.conversations)} conversations will be deleted. Jobs that used it keep their results.`}
          confirmLabel="Delete"
          onConfirm={() => void remove()}
          onCancel={() => setDeleting(false)}
        />
      )}
    </div>
  );
}

function Rejected({ dataset }: { dataset: Dataset }) {
  return (
    <section aria-labelledby="rejected-title">
      <h2 id="rejected-title">Validation</h2>
      {dataset.rejectedCount === 0 ? (
        <p>Every line was accepted.</p>
      ) : (
        <>
          <p role="status" className="warning">
            {formatCount(dataset.rejectedCount)} {dataset.rejectedCount === 1 ? 'line was' : 'lines were'}{' '}
            rejected and left out of the dataset
            {dataset.rejected.length < dataset.rejectedCount
              ? `; the first ${dataset.rejected.length} are listed`
              : ''}
            .
          </p>
          <div className="table-scroll">
            <table className="data-table rejected-table">
              <thead>
                <tr>
                  <th scope="col" className="number">
                    Line
                  </th>
                  <th scope="col">Field</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {dataset.rejected.map((line) => (
                  <tr key={`${line.line}:${line.field ?? ''}`}>
                    <td className="number">{line.line}</td>
                    <td>{line.field ? <code>{line.field}</code> : '—'}</td>
                    <td>{line.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Statistics({ stats }: { stats: DatasetStats }) {
  const roles = ['system', 'user', 'assistant'] as const;
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Statistics</h2>
      <div className="stat-cards">
        <Stat label="Conversations" value={formatCount(stats.conversations)} />
        <Stat label="Turns" value={formatCount(stats.turns)} />
        <Stat
          label="Tokens"
          value={formatCount(stats.tokens.system + stats.tokens.user + stats.tokens.assistant)}
        />
      </div>
      <div className="table-scroll">
        <table className="data-table stats-table">
          <thead>
            <tr>
              <th scope="col">Role</th>
              <th scope="col" className="number">
                Messages
              </th>
              <th scope="col" className="number">
                Tokens
              </th>
            </tr>
          </thead>
          <tbody>
            {roles.map((role) => (
              <tr key={role}>
                <th scope="row">{role}</th>
                <td className="number">{formatCount(stats.messages[role])}</td>
                <td className="number">{formatCount(stats.tokens[role])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        {stats.tokenCounter === 'tokenizer'
          ? 'Tokens counted with the default model’s tokenizer.'
          : 'Tokens estimated as one per four characters (no model to count with).'}
      </p>
      <LengthHistogram buckets={stats.lengthHistogram} />
    </section>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="stat">
      <span className="muted small">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

/** Conversation lengths in tokens as bars, with the counts as text for screen readers (the table below). */
function LengthHistogram({ buckets }: { buckets: DatasetStats['lengthHistogram'] }) {
  if (buckets.length === 0) return null;
  const width = 560;
  const height = 160;
  const barArea = height - 36;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const y = linearScale(0, max, 0, barArea);
  const slot = width / buckets.length;
  // Bars no wider than a thumb, so one bucket alone does not fill the chart.
  const bar = Math.min(slot * 0.76, 56);
  return (
    <figure className="chart histogram">
      <figcaption>Conversation length (tokens)</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="histogram-table">
        {buckets.map((bucket, i) => (
          <g key={bucket.upTo}>
            <rect
              className="bar"
              x={i * slot + (slot - bar) / 2}
              y={16 + barArea - y(bucket.count)}
              width={bar}
              height={y(bucket.count)}
              rx={2}
            />
            <text
              className="bar-value"
              x={i * slot + slot / 2}
              y={12 + barArea - y(bucket.count)}
              textAnchor="middle"
            >
              {bucket.count}
            </text>
            <text className="axis-label" x={i * slot + slot / 2} y={height - 4} textAnchor="middle">
              {bucketLabel(bucket.upTo)}
            </text>
          </g>
        ))}
      </svg>
      <table id="histogram-table" className="visually-hidden">
        <caption>Conversations by length in tokens</caption>
        <tbody>
          {buckets.map((bucket) => (
            <tr key={bucket.upTo}>
              <th scope="row">{bucketLabel(bucket.upTo)}</th>
              <td>{bucket.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

const PAGE = 10;

function Preview({ dataset }: { dataset: Dataset }) {
  const [split, setSplit] = useState<'train' | 'validation'>('train');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ conversations: Conversation[]; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    api.previewDataset(dataset.id, split, offset, PAGE).then(
      (result) => current && (setPage(result), setError(null)),
      (e: Error) => current && setError(e.message),
    );
    return () => {
      current = false;
    };
  }, [dataset.id, split, offset]);

  const total = page?.total ?? 0;
  return (
    <section aria-labelledby="preview-title">
      <div className="section-head">
        <h2 id="preview-title">Preview</h2>
        <label className="inline-field">
          <span>Split</span>
          <select
            value={split}
            onChange={(e) => {
              setSplit(e.target.value as 'train' | 'validation');
              setOffset(0);
            }}
          >
            <option value="train">Train</option>
            <option value="validation">Validation</option>
          </select>
        </label>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {page && page.total === 0 && <p className="muted">No conversations in this split.</p>}
      <ol className="conversations" start={offset + 1}>
        {page?.conversations.map((conversation, i) => (
          <li key={offset + i} className="conversation" aria-label={`Conversation ${offset + i + 1}`}>
            {conversation.messages.map((message, j) => (
              <div key={j} className={`turn from-${message.role}${message.weight === 0 ? ' masked' : ''}`}>
                <span className="turn-role">
                  {message.role}
                  {message.weight === 0 ? ' (not trained on)' : ''}
                </span>
                <p>{message.content}</p>
              </div>
            ))}
          </li>
        ))}
      </ol>
      {total > PAGE && (
        <nav className="pager" aria-label="Preview pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Previous
          </button>
          <span className="muted small">
            {offset + 1}–{Math.min(offset + PAGE, total)} of {formatCount(total)}
          </span>
          <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
            Next
          </button>
        </nav>
      )}
    </section>
  );
}
