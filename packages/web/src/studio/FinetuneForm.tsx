// The "New fine-tune" form: dataset, base model and hyperparameters with the defaults and limits of the server's
// finetune schema (GET /api/job-types) filled in, the server's preflight estimate (memory, time, cost) refreshed as
// the fields change, and Start, which opens the new job.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatBytes, formatCount, formatDuration } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import { jobPath, Link, navigate } from '../common/router.tsx';
import type { Estimate, JobParams, JobRequest } from '../types.ts';
import { choices, defaultParams, numberBox } from './param-schema.ts';
import { formatCost, parseScenarios } from './studio-format.ts';

type NumberField = 'rank' | 'alpha' | 'loraDropout' | 'lr' | 'epochs' | 'batchSize' | 'context' | 'seed';

const numberFields: { key: NumberField; label: string; lora?: boolean }[] = [
  { key: 'rank', label: 'Rank', lora: true },
  { key: 'alpha', label: 'Alpha', lora: true },
  { key: 'loraDropout', label: 'Dropout', lora: true },
  { key: 'lr', label: 'Learning rate' },
  { key: 'epochs', label: 'Epochs' },
  { key: 'batchSize', label: 'Batch size' },
  { key: 'context', label: 'Context (tokens)' },
  { key: 'seed', label: 'Seed' },
];

export function FinetuneForm() {
  const app = useApp();
  const loaded = useLoad(() => api.datasets().then((result) => result.datasets), []);
  const datasets = loaded.value;
  const finetune = useLoad(() => api.jobTypes().then((result) => result.types.finetune!), []);
  const schema = finetune.value?.params.properties;
  const [params, setParams] = useState<JobParams | null>(null);
  // Typed text, so "0." or an emptied box can be edited; parsed into params as it changes.
  const [numbers, setNumbers] = useState<Record<NumberField, string> | null>(null);
  const [name, setName] = useState('');
  const [scenarios, setScenarios] = useState('');
  const [steps, setSteps] = useState('');
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [estimateError, setEstimateError] = useState<string | null>(null);
  const action = useAction();
  const bases = useMemo(() => app.models?.filter((m) => (m.kind ?? 'model') === 'model') ?? [], [app.models]);

  useEffect(() => {
    document.title = 'New fine-tune · ownlm';
  }, []);

  // The schema's defaults once it and both lists are in: the dataset from the link that opened the form, the
  // default model and its whole context.
  useEffect(() => {
    if (params || !schema || !datasets || !app.models) return;
    const wanted = new URLSearchParams(window.location.search).get('dataset');
    const dataset = datasets.find((d) => d.id === wanted) ?? datasets[0];
    const base = bases.find((m) => m.id === app.defaultModelId) ?? bases[0];
    const initial: JobParams = {
      ...defaultParams(schema),
      base: base?.id ?? '',
      dataset: dataset?.id ?? '',
      context: base?.contextLength ?? null,
    };
    setParams(initial);
    setNumbers(
      Object.fromEntries(numberFields.map(({ key }) => [key, String(initial[key] ?? '')])) as Record<
        NumberField,
        string
      >,
    );
  }, [params, schema, datasets, app.models, app.defaultModelId, bases]);

  const request = useMemo<JobRequest | null>(
    () =>
      params && {
        type: 'finetune',
        ...(name.trim() ? { name: name.trim() } : {}),
        params: {
          ...params,
          ...(Number(steps) > 0 ? { steps: Math.floor(Number(steps)) } : {}),
          scenarios: parseScenarios(scenarios),
        },
      },
    [params, name, scenarios, steps],
  );

  // The estimate follows the form, a moment after the last change.
  useEffect(() => {
    if (!request?.params.base || !request.params.dataset) return;
    let current = true;
    const timer = setTimeout(() => {
      api.preflight(request).then(
        (result) => current && (setEstimate(result.estimate), setEstimateError(null)),
        (e: Error) => current && (setEstimate(null), setEstimateError(e.message)),
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [request]);

  if (!params || !numbers || !schema) {
    return (
      <div className="studio-page" aria-busy="true">
        <h1>New fine-tune</h1>
        <ErrorMessage message={loaded.error ?? finetune.error} />
      </div>
    );
  }

  const set = (patch: JobParams) => setParams({ ...params, ...patch });
  // A base change carries its context along.
  const setBase = (id: string) => {
    const context = bases.find((m) => m.id === id)?.contextLength;
    if (context) setNumbers({ ...numbers, context: String(context) });
    set(context ? { base: id, context } : { base: id });
  };
  // A box whose parameter may be null (the learning rate, the context) is emptied to the default it describes.
  const nullable = (key: NumberField) => schema[key]?.default === null;
  const setNumber = (key: NumberField, text: string) => {
    setNumbers({ ...numbers, [key]: text });
    const value = Number(text);
    if (text.trim() === '' && nullable(key)) set({ [key]: null });
    else if (text.trim() !== '' && Number.isFinite(value)) set({ [key]: value });
  };
  const targets = params.targets as string[];

  function start(event: FormEvent) {
    event.preventDefault();
    if (!request) return;
    void action.run(async () => {
      const { job } = await api.createJob(request);
      navigate(jobPath(job.id));
    });
  }

  const lora = params.method === 'lora';
  return (
    <div className="studio-page">
      <h1>New fine-tune</h1>
      {datasets && datasets.length === 0 && (
        <p className="warning">
          There is no dataset yet. <Link to="/datasets">Upload one</Link> first.
        </p>
      )}
      <form className="finetune-form" onSubmit={start}>
        <fieldset className="card form-grid">
          <legend>Data and model</legend>
          <label className="field">
            <span>Dataset</span>
            <select
              value={String(params.dataset)}
              required
              onChange={(e) => set({ dataset: e.target.value })}
            >
              {datasets?.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({formatCount(d.trainConversations)} train)
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Base model</span>
            <select value={String(params.base)} required onChange={(e) => setBase(e.target.value)}>
              {bases.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} · {m.version}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Job name (optional)</span>
            <input value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <fieldset className="field radio-row">
            <legend>Method</legend>
            <label>
              <input type="radio" name="method" checked={lora} onChange={() => set({ method: 'lora' })} />{' '}
              LoRA
            </label>
            <label>
              <input type="radio" name="method" checked={!lora} onChange={() => set({ method: 'full' })} />{' '}
              Full fine-tune
            </label>
          </fieldset>
        </fieldset>
        <fieldset className="card form-grid">
          <legend>Hyperparameters</legend>
          {numberFields
            .filter((f) => lora || !f.lora)
            .map((f) => (
              <label key={f.key} className="field">
                <span>{f.label}</span>
                <input
                  type="number"
                  {...numberBox(schema[f.key])}
                  required={!nullable(f.key)}
                  value={numbers[f.key]}
                  onChange={(e) => setNumber(f.key, e.target.value)}
                />
              </label>
            ))}
          <label className="field">
            <span>Steps (empty: from epochs)</span>
            <input type="number" min="1" step="1" value={steps} onChange={(e) => setSteps(e.target.value)} />
          </label>
          {lora && (
            <>
              <fieldset className="field checkbox-row wide">
                <legend>Target modules</legend>
                {choices(schema.targets).map((target, _, all) => (
                  <label key={target}>
                    <input
                      type="checkbox"
                      checked={targets.includes(target)}
                      onChange={(e) =>
                        set({
                          targets: e.target.checked
                            ? all.filter((t) => t === target || targets.includes(t))
                            : targets.filter((t) => t !== target),
                        })
                      }
                    />{' '}
                    <code>{target}</code>
                  </label>
                ))}
              </fieldset>
              <label className="check wide">
                <input
                  type="checkbox"
                  checked={params.rslora === true}
                  onChange={(e) => set({ rslora: e.target.checked })}
                />{' '}
                rsLoRA scaling (alpha / √rank instead of alpha / rank)
              </label>
              <label className="check wide">
                <input
                  type="checkbox"
                  checked={params.merge === true}
                  onChange={(e) => set({ merge: e.target.checked })}
                />{' '}
                Also save a merged model (the adapter folded into the base)
              </label>
            </>
          )}
        </fieldset>
        <fieldset className="card form-grid">
          <legend>Evaluation</legend>
          <label className="field wide">
            <span>Scenario prompts, one a line (empty: drawn from the validation split)</span>
            <textarea rows={3} value={scenarios} onChange={(e) => setScenarios(e.target.value)} />
          </label>
        </fieldset>
        <section className="card estimate" aria-labelledby="estimate-title" aria-live="polite">
          <h2 id="estimate-title">Estimate</h2>
          {estimate ? (
            <dl className="estimate-list">
              <div>
                <dt>Memory</dt>
                <dd>
                  {formatBytes(estimate.memoryBytes)}{' '}
                  {estimate.fits ? (
                    <span className="badge ok">fits</span>
                  ) : (
                    <span className="badge bad">does not fit this machine</span>
                  )}
                </dd>
              </div>
              <div>
                <dt>Time</dt>
                <dd>about {formatDuration(estimate.seconds)}</dd>
              </div>
              <div>
                <dt>Tokens</dt>
                <dd>{formatCount(estimate.tokens)}</dd>
              </div>
              <div>
                <dt>Cost</dt>
                <dd>{formatCost(estimate.cost, estimate.currency)}</dd>
              </div>
            </dl>
          ) : (
            !estimateError && <p className="muted">Estimating…</p>
          )}
          <ErrorMessage message={estimateError} />
        </section>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={action.busy || !params.base || !params.dataset}>
            {action.busy ? 'Starting…' : 'Start fine-tune'}
          </button>
        </div>
        <ErrorMessage message={action.error} />
      </form>
    </div>
  );
}
