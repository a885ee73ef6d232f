// The admins' safety page: the safety policies (for the whole platform or one model: which filters and checks
// run, the admin's own words and patterns, block or flag), the flag queue (what the policies blocked, flagged or
// warned about; filter it and mark flags reviewed), and a red-team run of a model as a job.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { useConfirm } from '../common/ConfirmDialog.tsx';
import { DataTable } from '../common/DataTable.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatDate } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import { jobPath, navigate } from '../common/router.tsx';
import type { FlagFilter, Model, SafetyPolicy, SafetyPolicyFields, SafetyRule } from '../types.ts';

const modelLabel = (m: Model) => `${m.name}:${m.version}`;
const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);

export function SafetyPage() {
  useEffect(() => {
    document.title = 'Safety · ownlm';
  }, []);
  return (
    <div className="studio-page">
      <h1>Safety</h1>
      <Policies />
      <FlagQueue />
      <Redteam />
    </div>
  );
}

function Policies() {
  const loaded = useLoad(() => api.safetyPolicies(), []);
  const [editing, setEditing] = useState<SafetyPolicy | 'new' | null>(null);
  const action = useAction();
  const confirmDelete = useConfirm((policy: SafetyPolicy) => ({
    title: 'Delete this policy?',
    message: `${scopeLabel(policy)} will no longer be checked by it.`,
    confirmLabel: 'Delete',
    onConfirm: () =>
      void action.run(async () => {
        await api.deleteSafetyPolicy(policy.id);
        loaded.reload();
      }),
  }));

  return (
    <section aria-labelledby="policies-title">
      <div className="section-head">
        <h2 id="policies-title">Policies</h2>
        <button type="button" onClick={() => setEditing('new')} disabled={editing !== null}>
          New policy
        </button>
      </div>
      <p className="muted small">
        A model's own policy replaces the platform's for that model; with none, nothing is checked. On the
        shipped red-team suite's benign look-alikes, the classifier flags about 11% and the rules alone none:
        where false positives cost more than misses, block with the rules and flag with the classifier.
      </p>
      <ErrorMessage message={action.error ?? loaded.error} />
      {editing !== null && loaded.value && (
        <PolicyForm
          policy={editing === 'new' ? { scope: 'platform', ...loaded.value.defaults } : editing}
          categories={loaded.value.categories}
          onDone={() => {
            setEditing(null);
            loaded.reload();
          }}
        />
      )}
      {loaded.value?.policies.length === 0 && <p className="muted">No policies yet.</p>}
      <ul className="webhook-list">
        {loaded.value?.policies.map((policy) => (
          <li key={policy.id} className="card">
            <div className="section-head">
              <div>
                <strong>{scopeLabel(policy)}</strong>
                <p className="muted small">{policySummary(policy)}</p>
              </div>
              <div className="page-actions">
                <button type="button" onClick={() => setEditing(policy)} disabled={editing !== null}>
                  Edit
                </button>
                <button
                  type="button"
                  className="text-button danger-text"
                  onClick={() => confirmDelete.ask(policy)}
                >
                  Delete<span className="visually-hidden"> {scopeLabel(policy)}</span>
                </button>
              </div>
            </div>
          </li>
        ))}
      </ul>
      {confirmDelete.dialog}
    </section>
  );
}

const scopeLabel = (p: SafetyPolicy) => (p.scope === 'platform' ? 'The whole platform' : `Model ${p.model}`);

function policySummary(p: SafetyPolicy): string {
  const checks = [
    p.rules && 'shipped rules',
    p.classifier && `classifier (threshold ${p.threshold})`,
    p.guardModel && `guard model ${p.guardModel}`,
    p.customRules.length > 0 && `${p.customRules.length} rule(s) of its own`,
  ].filter(Boolean);
  const where = [p.inputFilter && 'inputs', p.outputFilter && 'outputs'].filter(Boolean);
  return [
    p.enabled ? null : 'disabled',
    `${p.action === 'block' ? 'blocks' : 'flags'} ${where.join(' and ') || 'nothing'}`,
    checks.join(', ') || 'no checks',
    `injections: ${p.injection}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** Edits a stored policy, or a new one (starting from the server's defaults). */
function PolicyForm({
  policy,
  categories,
  onDone,
}: {
  policy: SafetyPolicy | SafetyPolicyFields;
  categories: string[];
  onDone: () => void;
}) {
  const app = useApp();
  const stored = 'id' in policy ? policy : null;
  const [fields, setFields] = useState<SafetyPolicyFields>(() => {
    if (!stored) return policy;
    const { id: _id, createdAt: _created, updatedAt: _updated, ...current } = stored;
    return current;
  });
  const action = useAction();
  const set = <K extends keyof SafetyPolicyFields>(key: K, value: SafetyPolicyFields[K]) =>
    setFields((f) => ({ ...f, [key]: value }));
  const rules = fields.customRules ?? [];
  const setRule = (index: number, rule: SafetyRule) =>
    set(
      'customRules',
      rules.map((r, i) => (i === index ? rule : r)),
    );
  const modelNames = [...new Set((app.models ?? []).flatMap((m) => [m.name, ...m.aliases]))];

  function save(event: FormEvent) {
    event.preventDefault();
    void action.run(async () => {
      const { scope, model, ...rest } = fields;
      const body = { scope, ...(scope === 'model' ? { model } : {}), ...rest };
      if (stored) await api.updateSafetyPolicy(stored.id, body);
      else await api.createSafetyPolicy(body);
      onDone();
    });
  }

  const check = (key: 'enabled' | 'inputFilter' | 'outputFilter' | 'rules' | 'classifier', label: string) => (
    <label>
      <input type="checkbox" checked={fields[key] ?? false} onChange={(e) => set(key, e.target.checked)} />{' '}
      {label}
    </label>
  );

  return (
    <form className="card form-grid" onSubmit={save} aria-label={stored ? 'Edit policy' : 'New policy'}>
      <label className="field">
        <span>Applies to</span>
        <select value={fields.scope} onChange={(e) => set('scope', e.target.value as 'platform' | 'model')}>
          <option value="platform">the whole platform</option>
          <option value="model">one model</option>
        </select>
      </label>
      {fields.scope === 'model' && (
        <label className="field">
          <span>Model (name or alias)</span>
          <select required value={fields.model ?? ''} onChange={(e) => set('model', e.target.value)}>
            <option value="" disabled>
              choose a model
            </option>
            {modelNames.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
      )}
      <fieldset className="field checkbox-row wide">
        <legend>Filters and checks</legend>
        {check('enabled', 'enabled')}
        {check('inputFilter', 'check inputs')}
        {check('outputFilter', 'check outputs')}
        {check('rules', 'shipped rules (and PII on outputs)')}
        {check('classifier', 'shipped classifier')}
      </fieldset>
      <label className="field">
        <span>Flag threshold (0–1]</span>
        <input
          type="number"
          min={0.01}
          max={1}
          step={0.01}
          value={fields.threshold ?? 0.5}
          onChange={(e) => set('threshold', Number(e.target.value))}
        />
      </label>
      <label className="field">
        <span>Guard model (Llama Guard style)</span>
        <select value={fields.guardModel ?? ''} onChange={(e) => set('guardModel', e.target.value || null)}>
          <option value="">none</option>
          {modelNames.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Prompt injections</span>
        <select
          value={fields.injection}
          onChange={(e) => set('injection', e.target.value as SafetyPolicy['injection'])}
        >
          <option value="off">not checked</option>
          <option value="warn">warn and flag</option>
          <option value="block">block</option>
        </select>
      </label>
      <label className="field">
        <span>A flagged text is</span>
        <select
          value={fields.action}
          onChange={(e) => set('action', e.target.value as SafetyPolicy['action'])}
        >
          <option value="block">blocked</option>
          <option value="flag">let through and flagged</option>
        </select>
      </label>
      <fieldset className="field wide">
        <legend>Rules of its own (one phrase or regular expression per line)</legend>
        {rules.map((rule, i) => (
          <div key={i} className="form-grid">
            <label className="field">
              <span>Category</span>
              <select
                value={rule.category}
                onChange={(e) => setRule(i, { ...rule, category: e.target.value })}
              >
                {categories.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>Words and phrases</span>
              <textarea
                rows={3}
                value={rule.words.join('\n')}
                onChange={(e) => setRule(i, { ...rule, words: lines(e.target.value) })}
              />
            </label>
            <label className="field">
              <span>Patterns</span>
              <textarea
                rows={3}
                value={rule.patterns.join('\n')}
                onChange={(e) => setRule(i, { ...rule, patterns: lines(e.target.value) })}
              />
            </label>
            <div className="form-actions">
              <button
                type="button"
                className="text-button danger-text"
                onClick={() =>
                  set(
                    'customRules',
                    rules.filter((_, j) => j !== i),
                  )
                }
              >
                Remove rule {i + 1}
              </button>
            </div>
          </div>
        ))}
        <button
          type="button"
          onClick={() => set('customRules', [...rules, { category: 'violence', words: [], patterns: [] }])}
        >
          Add a rule
        </button>
      </fieldset>
      <ErrorMessage message={action.error} />
      <div className="form-actions wide">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={action.busy}>
          {stored ? 'Save policy' : 'Create policy'}
        </button>
      </div>
    </form>
  );
}

function FlagQueue() {
  const [filter, setFilter] = useState<FlagFilter>({ state: 'open' });
  const loaded = useLoad(() => api.flags(filter), [filter.state, filter.direction, filter.action]);
  const action = useAction();
  const counts = loaded.value?.counts;
  const review = (id: number, reviewed: boolean) =>
    void action.run(async () => {
      await api.reviewFlag(id, reviewed);
      loaded.reload();
    });

  return (
    <section aria-labelledby="flags-title">
      <div className="section-head">
        <h2 id="flags-title">Flag queue</h2>
        {counts && (
          <p className="muted small">
            {counts.open} open of {counts.total}
            {counts.byKind.map((k) => ` · ${k.direction} ${k.action}: ${k.count}`).join('')}
          </p>
        )}
      </div>
      <div className="page-actions">
        <label className="field">
          <span>Show</span>
          <select
            value={filter.state}
            onChange={(e) => setFilter({ ...filter, state: e.target.value as FlagFilter['state'] })}
          >
            <option value="open">open</option>
            <option value="reviewed">reviewed</option>
            <option value="all">all</option>
          </select>
        </label>
        <label className="field">
          <span>Direction</span>
          <select
            value={filter.direction ?? ''}
            onChange={(e) =>
              setFilter({ ...filter, direction: (e.target.value || undefined) as FlagFilter['direction'] })
            }
          >
            <option value="">both</option>
            <option value="input">inputs</option>
            <option value="output">outputs</option>
          </select>
        </label>
        <label className="field">
          <span>Action</span>
          <select
            value={filter.action ?? ''}
            onChange={(e) =>
              setFilter({ ...filter, action: (e.target.value || undefined) as FlagFilter['action'] })
            }
          >
            <option value="">any</option>
            <option value="blocked">blocked</option>
            <option value="flagged">flagged</option>
            <option value="warned">warned (injection)</option>
          </select>
        </label>
      </div>
      <ErrorMessage message={action.error ?? loaded.error} />
      {loaded.value?.flags.length === 0 && <p className="muted">Nothing here.</p>}
      {loaded.value && loaded.value.flags.length > 0 && (
        <DataTable columns={['When', 'Where', 'What', 'Categories', 'Excerpt', 'Evidence', '']}>
          {loaded.value.flags.map((flag) => (
            <tr key={flag.id}>
              <td>{formatDate(flag.createdAt)}</td>
              <td>
                {flag.source} · {flag.model}
              </td>
              <td>
                {flag.direction} {flag.action}
              </td>
              <td>{flag.categories.join(', ')}</td>
              <td className="preformatted">{flag.excerpt}</td>
              <td className="small">
                {flag.reasons
                  .slice(0, 3)
                  .map((r) => `${r.id} ${r.score.toFixed(2)}`)
                  .join(', ')}
              </td>
              <td>
                <button type="button" onClick={() => review(flag.id, flag.reviewedAt === null)}>
                  {flag.reviewedAt === null ? 'Mark reviewed' : 'Reopen'}
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}

function Redteam() {
  const app = useApp();
  const models = (app.models ?? []).filter((m) => (m.kind ?? 'model') === 'model');
  const [modelId, setModelId] = useState('');
  const [filters, setFilters] = useState('both');
  const [quick, setQuick] = useState(true);
  const action = useAction();

  function start(event: FormEvent) {
    event.preventDefault();
    void action.run(async () => {
      const { job } = await api.createJob({
        type: 'redteam',
        params: { model: modelId, filters, ...(quick ? { limit: 4 } : {}) },
      });
      navigate(jobPath(job.id));
    });
  }

  return (
    <section aria-labelledby="redteam-title">
      <h2 id="redteam-title">Red-team a model</h2>
      <p className="muted small">
        Runs the shipped suite (320 attacks in five categories and 320 benign look-alikes) against a model
        version as a job, behind ownlm's rules and classifier; its report tells what was blocked, refused or
        leaked. To test a model behind this server's policies, run{' '}
        <code>ownlm redteam --model NAME --server URL --filters none</code>.
      </p>
      <form className="card form-grid" onSubmit={start}>
        <label className="field">
          <span>Model version</span>
          <select required value={modelId} onChange={(e) => setModelId(e.target.value)}>
            <option value="" disabled>
              choose a model
            </option>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {modelLabel(m)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Filters</span>
          <select value={filters} onChange={(e) => setFilters(e.target.value)}>
            <option value="both">rules and classifier</option>
            <option value="rules">rules</option>
            <option value="classifier">classifier</option>
            <option value="none">none (the model alone)</option>
          </select>
        </label>
        <label className="checkbox-row">
          <input type="checkbox" checked={quick} onChange={(e) => setQuick(e.target.checked)} /> quick run (4
          prompts of each category and kind)
        </label>
        <ErrorMessage message={action.error} />
        <div className="form-actions wide">
          <button type="submit" className="primary" disabled={!modelId || action.busy}>
            Start the red-team job
          </button>
        </div>
      </form>
    </section>
  );
}
