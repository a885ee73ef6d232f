// A job as the API shows it (STUDIO-API.md `job`): the row without lease details, with its cost.
import type { jobs, JobState, JobType } from '../db/schema.ts';

export interface JobView {
  id: string;
  userId: string;
  type: JobType;
  name: string;
  state: JobState;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  progress: Record<string, unknown> | null;
  attempts: number;
  workerId: string | null;
  cancelRequested: boolean;
  /** Seconds spent running over all attempts, up to the last heartbeat. */
  wallSeconds: number;
  hourlyRate: number;
  /** wallSeconds / 3600 × hourlyRate. */
  cost: number;
  tokensProcessed: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export function jobView(row: typeof jobs.$inferSelect): JobView {
  return {
    id: row.id,
    userId: row.userId,
    type: row.type,
    name: row.name,
    state: row.state,
    params: row.params,
    result: row.result,
    error: row.error,
    progress: row.progress,
    attempts: row.attempts,
    workerId: row.workerId,
    cancelRequested: row.cancelRequested,
    wallSeconds: row.wallSeconds,
    hourlyRate: row.hourlyRate,
    cost: (row.wallSeconds / 3600) * row.hourlyRate,
    tokensProcessed: row.tokensProcessed,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}
