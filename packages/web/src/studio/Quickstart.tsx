// First run: no model exists yet. Offers an admin the quickstart training and follows it live (stage, step, loss, ETA)
// over Server-Sent Events, then hands the new model to the caller.
import { useEffect, useRef } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatDuration } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import type { QuickstartStatus } from '../types.ts';

export function Quickstart({ onModelReady }: { onModelReady: (modelId: string) => Promise<void> }) {
  const loaded = useLoad(() => api.quickstart(), []);
  const status = loaded.value;
  const setStatus = loaded.setValue;
  const action = useAction();
  const handedOver = useRef(false);
  const admin = useApp().user.role === 'admin';

  const running = status?.state === 'running';
  useEffect(() => {
    if (!running) return;
    const events = new EventSource(api.quickstartEventsUrl);
    events.addEventListener('quickstart-progress', (event) =>
      setStatus(JSON.parse(event.data) as QuickstartStatus),
    );
    // EventSource reconnects by itself; a fresh GET corrects anything missed meanwhile.
    events.onerror = () => {
      api.quickstart().then(setStatus, () => {});
    };
    return () => events.close();
  }, [running]);

  useEffect(() => {
    if (status?.state !== 'succeeded' || !status.modelId || handedOver.current) return;
    handedOver.current = true;
    const modelId = status.modelId;
    void action.run(() => onModelReady(modelId));
  }, [status, onModelReady]);

  const start = () =>
    action.run(async () => {
      await api.startQuickstart();
      setStatus(await api.quickstart());
    });

  const progress = status?.steps ? Math.min(1, (status.step ?? 0) / status.steps) : null;
  return (
    <section className="quickstart" aria-labelledby="quickstart-title">
      <h1 id="quickstart-title">No model yet</h1>
      <p>
        ownlm has no model to chat with. The quickstart trains a small one from scratch on this machine: it
        prepares the bundled corpus, trains a tokenizer and a tiny GPT, evaluates it and exports it for
        serving. It takes a few minutes on a laptop CPU.
      </p>
      {status && status.state !== 'running' && status.state !== 'succeeded' && !admin && (
        <p className="muted">
          Only an admin can start it: ask yours to run the quickstart, or to add a model.
        </p>
      )}
      {status && status.state !== 'running' && status.state !== 'succeeded' && admin && (
        <button
          type="button"
          className="primary"
          onClick={() => void start()}
          disabled={action.busy}
          autoFocus
        >
          {status.state === 'failed' ? 'Try the quickstart again' : 'Train the quickstart model'}
        </button>
      )}
      {status?.state === 'failed' && status.error && (
        <p role="alert" className="error">
          The last run failed: {status.error}
        </p>
      )}
      {status && (running || status.state === 'succeeded') && (
        <div className="progress-card" aria-live="polite">
          <div className="progress-row">
            <strong>
              {status.state === 'succeeded' ? 'Done, opening a chat…' : (status.stage ?? 'Starting')}
            </strong>
            {status.etaSeconds != null && running && (
              <span className="muted">about {formatDuration(status.etaSeconds)} left</span>
            )}
          </div>
          <progress
            max={1}
            value={status.state === 'succeeded' ? 1 : (progress ?? undefined)}
            aria-label="Quickstart progress"
          />
          <div className="progress-row small muted">
            <span>{status.steps ? `step ${status.step ?? 0} of ${status.steps}` : 'preparing'}</span>
            {status.loss != null && <span>loss {status.loss.toFixed(3)}</span>}
          </div>
        </div>
      )}
      <ErrorMessage message={action.error ?? loaded.error} />
    </section>
  );
}
