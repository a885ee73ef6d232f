// Generate a synthetic dataset: personas × conversation arcs × topics, written from templates, by a model on this
// server or by an OpenAI-compatible endpoint.
import { useState, type FormEvent } from 'react';
import { api } from '../../common/api.ts';
import { useApp } from '../../common/app-state.tsx';
import { ErrorMessage } from '../../common/ErrorMessage.tsx';
import { useAction } from '../../common/requests.ts';
import { datasetPath, navigate } from '../../common/router.tsx';
import type { SyntheticGenerator } from '../../types.ts';
import { ValidationField } from './ValidationField.tsx';

export function SyntheticForm() {
  const app = useApp();
  const [name, setName] = useState('synthetic');
  const [count, setCount] = useState('50');
  const [seed, setSeed] = useState('1');
  const [validation, setValidation] = useState('0.1');
  const [kind, setKind] = useState<SyntheticGenerator['kind']>('template');
  const [model, setModel] = useState('');
  const [baseUrl, setBaseUrl] = useState('https://api.openai.com/v1');
  const [apiKey, setApiKey] = useState('');
  const action = useAction();
  const localModels = app.models?.filter((m) => m.kind !== 'adapter') ?? [];

  function generate(event: FormEvent) {
    event.preventDefault();
    const generator: SyntheticGenerator =
      kind === 'template'
        ? { kind }
        : kind === 'model'
          ? { kind, model: model || localModels[0]?.id || '' }
          : { kind, baseUrl: baseUrl.trim(), apiKey, model: model.trim() };
    void action.run(async () => {
      const { dataset } = await api.createSyntheticDataset({
        name: name.trim(),
        count: Number(count),
        seed: Number(seed),
        validation: Number(validation),
        generator,
      });
      navigate(datasetPath(dataset.id));
    });
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
        <ValidationField value={validation} onChange={setValidation} />
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
          <button type="submit" className="primary" disabled={action.busy || !name.trim()}>
            {action.busy ? 'Generating…' : 'Generate'}
          </button>
        </div>
        <ErrorMessage message={action.error} className="wide preformatted" />
      </form>
    </details>
  );
}
