// The user's jobs (state, progress, cost) with their totals; refreshed while any job is queued or running.
import { useEffect, useState } from 'react';
import { api } from '../common/api.ts';
import { formatCount, formatDate, formatDuration } from '../common/format.ts';
import { jobPath, Link } from '../common/router.tsx';
import type { Job, JobTotals } from '../types.ts';
import { isFinished } from './job-events.ts';
import { formatCost, progressFraction } from './studio-format.ts';

const POLL_MS = 3000;

export function JobsPage() {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [totals, setTotals] = useState<JobTotals | null>(null);
  const [error, setError] = useState<string | null>(null);
  const active = jobs?.some((job) => !isFinished(job.state)) ?? false;

  useEffect(() => {
    document.title = 'Jobs · ownlm';
    let current = true;
    const load = () =>
      api.jobs().then(
        (result) => {
          if (!current) return;
          setJobs(result.jobs);
          setTotals(result.totals);
          setError(null);
        },
        (e: Error) => current && setError(e.message),
      );
    void load();
    const timer = active ? setInterval(() => void load(), POLL_MS) : undefined;
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [active]);

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
      {totals && (
        <div className="stat-cards" aria-label="Your totals">
          <div className="stat">
            <span className="muted small">Machine time</span>
            <strong>{formatDuration(totals.wallSeconds)}</strong>
          </div>
          <div className="stat">
            <span className="muted small">Cost</span>
            <strong>{formatCost(totals.cost, totals.currency)}</strong>
          </div>
          <div className="stat">
            <span className="muted small">Tokens processed</span>
            <strong>{formatCount(totals.tokensProcessed)}</strong>
          </div>
        </div>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {jobs && jobs.length === 0 && <p className="muted">No jobs yet.</p>}
      {jobs && jobs.length > 0 && (
        <div className="table-scroll">
          <table className="data-table jobs-table">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col" className="number">
                  Cost
                </th>
                <th scope="col" className="number">
                  Time
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function StateBadge({ state }: { state: Job['state'] }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}
