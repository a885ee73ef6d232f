// The user's jobs (state, progress, cost) with their totals; refreshed while any job is queued or running.
import { useEffect } from 'react';
import { api } from '../common/api.ts';
import { DataTable } from '../common/DataTable.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { formatDate, formatDuration } from '../common/format.ts';
import { useLoad } from '../common/requests.ts';
import { jobPath, Link } from '../common/router.tsx';
import type { Job } from '../types.ts';
import { isFinished } from './job-events.ts';
import { JobStats } from './Stats.tsx';
import { formatCost, progressFraction } from './studio-format.ts';

const POLL_MS = 3000;

export function JobsPage() {
  const loaded = useLoad(() => api.jobs(), []);
  const jobs = loaded.value?.jobs ?? null;
  const totals = loaded.value?.totals ?? null;
  const active = jobs?.some((job) => !isFinished(job.state)) ?? false;
  const { reload } = loaded;

  useEffect(() => {
    document.title = 'Jobs · ownlm';
  }, []);

  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, POLL_MS);
    return () => clearInterval(timer);
  }, [active, reload]);

  return (
    <div className="studio-page">
      <div className="page-head">
        <h1>Jobs</h1>
        <div className="page-actions">
          <Link className="button primary" to="/finetune">
            New fine-tune
          </Link>
        </div>
      </div>
      {totals && <JobStats totals={totals} label="Your totals" />}
      <ErrorMessage message={loaded.error} />
      {jobs && jobs.length === 0 && <p className="muted">No jobs yet.</p>}
      {jobs && jobs.length > 0 && (
        <DataTable
          className="jobs-table"
          columns={[
            'Job',
            'State',
            'Progress',
            { label: 'Cost', number: true },
            { label: 'Time', number: true },
            'Created',
          ]}
        >
          {jobs.map((job) => {
            const fraction = progressFraction(job.progress, job.state === 'succeeded');
            return (
              <tr key={job.id}>
                <td>
                  <Link to={jobPath(job.id)}>{job.name || job.id}</Link>
                  <span className="muted small"> {job.type}</span>
                </td>
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td className="progress-cell">
                  {fraction !== null && (
                    <progress max={1} value={fraction} aria-label={`Progress of ${job.name || job.id}`} />
                  )}
                  {job.progress?.steps ? (
                    <span className="muted small">
                      {job.progress.step ?? 0}/{job.progress.steps}
                    </span>
                  ) : null}
                </td>
                <td className="number">{formatCost(job.cost, totals?.currency)}</td>
                <td className="number">{formatDuration(job.wallSeconds)}</td>
                <td>{formatDate(job.createdAt)}</td>
              </tr>
            );
          })}
        </DataTable>
      )}
    </div>
  );
}

export function StateBadge({ state }: { state: Job['state'] }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}
