// One job, live: a progress bar with rate and ETA, the loss chart, logs, checkpoints and artifacts from the job's
// event stream (EventSource resumes after a dropped connection with Last-Event-ID, and the view skips anything
// it has seen by id), cancel and retry, and when it succeeds, links to the new model version and its report.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { refreshNotifications } from '../account/Notifications.tsx';
import { api } from '../common/api.ts';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatDate, formatDuration } from '../common/format.ts';
import { useAction, useLoad } from '../common/requests.ts';
import { Link } from '../common/router.tsx';
import {
  applyJobEvent,
  emptyJobView,
  frameToEvent,
  isFinished,
  jobEventTypes,
  type JobView,
} from './job-events.ts';
import { StateBadge } from './JobsPage.tsx';
import { LossChart } from './LossChart.tsx';
import { JobStats } from './Stats.tsx';
import { formatRate, progressFraction } from './studio-format.ts';

/** Result fields shown as links; the rest are listed as they are. */
const linkedResults = ['adapterVersionId', 'mergedVersionId', 'reportId'];
const RECONNECT_MS = 2000;

export function JobPage({ id }: { id: string }) {
  const loaded = useLoad(
    () =>
      api.job(id).then((result) => {
        document.title = `${result.job.name || 'Job'} · ownlm`;
        return result.job;
      }),
    [id],
  );
  const job = loaded.value;
  const setJob = loaded.setValue;
  const [view, setView] = useState<JobView>(emptyJobView);
  const [streamError, setStreamError] = useState<string | null>(null);
  const action = useAction();
  // Counts the streams opened: a retried job or a stream the network broke opens a new one, from where this
  // page's view left off.
  const [connection, setConnection] = useState(0);
  const lastEventId = useRef(0);
  useEffect(() => {
    lastEventId.current = view.lastEventId;
  }, [view.lastEventId]);

  useEffect(() => {
    const stream = new EventSource(api.jobStreamUrl(id, lastEventId.current));
    const onFrame = (event: MessageEvent<string>) => {
      let parsed;
      try {
        parsed = frameToEvent(event.type, event.lastEventId, event.data);
      } catch (e) {
        setStreamError((e as Error).message);
        return;
      }
      setView((v) => applyJobEvent(v, parsed));
    };
    for (const type of jobEventTypes) stream.addEventListener(type, onFrame);
    stream.onopen = () => setStreamError(null);
    let retry: ReturnType<typeof setTimeout> | undefined;
    // The browser reconnects by itself, sending Last-Event-ID, unless the attempt failed outright (CLOSED: the
    // network was down); then a new stream resumes after the last event this page has.
    const reopenIfClosed = () => {
      if (stream.readyState === EventSource.CLOSED)
        retry = setTimeout(() => setConnection((c) => c + 1), RECONNECT_MS);
    };
    stream.onerror = () => {
      setStreamError('Reconnecting to the live updates…');
      // Whatever happened meanwhile, the job itself is one GET away; an ended job needs no stream.
      api.job(id).then((result) => {
        setJob(result.job);
        if (isFinished(result.job.state)) stream.close();
        else reopenIfClosed();
      }, reopenIfClosed);
    };
    return () => {
      clearTimeout(retry);
      stream.close();
    };
  }, [id, connection]);

  // State frames carry the job. A replayed old frame may say "failed" before a retry's events follow, so the
  // stream stays open until the server ends it and a GET confirms the job has ended.
  useEffect(() => {
    if (!view.job) return;
    setJob(view.job);
    if (isFinished(view.job.state)) {
      setStreamError(null);
      refreshNotifications();
    }
  }, [view.job]);

  const act = (which: 'cancel' | 'retry') =>
    action.run(async () => {
      const result = which === 'cancel' ? await api.cancelJob(id) : await api.retryJob(id);
      setJob(result.job);
      if (which === 'retry') {
        setView((v) => ({ ...v, job: null }));
        setConnection((c) => c + 1);
      }
    });

  const finished = job ? isFinished(job.state) : false;
  const progress = view.progress ?? job?.progress ?? null;
  const fraction = progressFraction(progress, job?.state === 'succeeded');
  const result = job?.result ?? null;
  const adapterVersionId = typeof result?.adapterVersionId === 'string' ? result.adapterVersionId : null;
  const mergedVersionId = typeof result?.mergedVersionId === 'string' ? result.mergedVersionId : null;
  const reportId = typeof result?.reportId === 'string' ? result.reportId : null;

  return (
    <div className="studio-page job-page">
      <p className="breadcrumb small">
        <Link to="/jobs">Jobs</Link>
      </p>
      <ErrorMessage message={action.error ?? loaded.error} />
      {job && (
        <>
          <div className="page-head">
            <h1>
              {job.name || job.id} <StateBadge state={job.state} />
            </h1>
            <div className="page-actions">
              {!finished && (
                <button type="button" disabled={action.busy} onClick={() => void act('cancel')}>
                  Cancel
                </button>
              )}
              {(job.state === 'failed' || job.state === 'cancelled') && (
                <button
                  type="button"
                  className="primary"
                  disabled={action.busy}
                  onClick={() => void act('retry')}
                >
                  Resume from the last checkpoint
                </button>
              )}
            </div>
          </div>
          <p className="muted small">
            {job.type} · created {formatDate(job.createdAt)}
            {job.attempts > 1 ? ` · attempt ${job.attempts}` : ''}
            {job.workerId ? ` · worker ${job.workerId}` : ''}
          </p>
          {job.state === 'failed' && <ErrorMessage message={job.error} className="preformatted" />}
          <section className="progress-card" aria-labelledby="progress-title">
            <div className="progress-row">
              <strong id="progress-title">
                {job.state === 'succeeded'
                  ? 'Done'
                  : job.state === 'queued'
                    ? 'Queued'
                    : (progress?.stage ?? job.state)}
              </strong>
              {!finished && progress?.etaSeconds != null && (
                <span className="muted">about {formatDuration(progress.etaSeconds)} left</span>
              )}
            </div>
            <progress max={1} value={fraction ?? undefined} aria-label="Job progress" />
            <div className="progress-row small muted">
              <span className="job-step">
                {progress?.steps ? `step ${progress.step ?? 0} of ${progress.steps}` : 'preparing'}
              </span>
              {progress?.tokensPerSecond != null && <span>{formatRate(progress.tokensPerSecond)}</span>}
              {progress?.loss != null && <span>loss {progress.loss.toFixed(3)}</span>}
              {progress?.validationLoss != null && (
                <span>validation {progress.validationLoss.toFixed(3)}</span>
              )}
            </div>
            {streamError && !finished && (
              <p className="small muted" role="status">
                {streamError}
              </p>
            )}
          </section>
          {job.state === 'succeeded' && result && (
            <section className="card result" aria-labelledby="result-title">
              <h2 id="result-title">Result</h2>
              <ul>
                {adapterVersionId && (
                  <li>
                    <Link to={`/models?version=${encodeURIComponent(adapterVersionId)}`}>
                      The new adapter version
                    </Link>
                  </li>
                )}
                {mergedVersionId && (
                  <li>
                    <Link to={`/models?version=${encodeURIComponent(mergedVersionId)}`}>
                      The merged model version
                    </Link>
                  </li>
                )}
                {reportId && (
                  <li>
                    {job.type === 'redteam' ? 'Red-team report' : 'Before/after report'}:{' '}
                    <a href={api.reportUrl(reportId, 'html')}>HTML</a> ·{' '}
                    <a href={api.reportUrl(reportId, 'md')} download>
                      Markdown
                    </a>
                  </li>
                )}
              </ul>
              <ParamsList entries={Object.entries(result).filter(([key]) => !linkedResults.includes(key))} />
            </section>
          )}
          <section aria-labelledby="loss-title">
            <h2 id="loss-title">Loss</h2>
            <LossChart train={view.train} validation={view.validation} />
          </section>
          <JobStats totals={job} />
          <EventList id="checkpoints-title" title="Checkpoints" items={view.checkpoints}>
            {(c) => (
              <>
                step {c.step ?? '?'} · <code>{c.dir}</code>{' '}
                <span className="muted small">{formatDate(c.createdAt)}</span>
              </>
            )}
          </EventList>
          <EventList id="artifacts-title" title="Artifacts" items={view.artifacts}>
            {(a) => (
              <>
                {a.kind} · <code>{a.path}</code>
              </>
            )}
          </EventList>
          <section aria-labelledby="logs-title">
            <h2 id="logs-title">Logs</h2>
            <div className="log-box" role="log" aria-labelledby="logs-title" tabIndex={0}>
              {view.logs.length === 0 && <span className="muted">No log lines yet.</span>}
              {view.logs.map((line) => (
                <div key={line.id}>
                  <span className="muted">{new Date(line.createdAt).toLocaleTimeString()}</span> {line.text}
                </div>
              ))}
            </div>
          </section>
          <details className="card">
            <summary>Parameters</summary>
            <ParamsList entries={Object.entries(job.params)} />
          </details>
        </>
      )}
    </div>
  );
}

/** A titled list of what the job's stream has reported (checkpoints, artifacts); "None yet." while it is empty. */
function EventList<T extends { id: number }>({
  id,
  title,
  items,
  children,
}: {
  id: string;
  title: string;
  items: T[];
  children: (item: T) => ReactNode;
}) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {items.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <ul className="plain-list">
          {items.map((item) => (
            <li key={item.id}>{children(item)}</li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Key and value pairs, values that are not text shown as JSON. */
function ParamsList({ entries }: { entries: [string, unknown][] }) {
  return (
    <dl className="params-list">
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>
            <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}
