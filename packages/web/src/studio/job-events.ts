// A job page's state built from the job's event stream: the latest progress, the loss curves, logs,
// checkpoints and artifacts. Events arrive once from the stored history and then live; after a dropped
// connection the stream resumes after the last event id seen, and anything seen twice is skipped by id.
import type { Job, JobEvent, JobEventType, JobProgress } from '../types.ts';

export interface LossPoint {
  step: number;
  value: number;
}

export interface JobView {
  /** The newest event id applied; the stream is resumed after it. */
  lastEventId: number;
  /** The job as the newest `state` frame carried it; null until one arrives. */
  job: Job | null;
  progress: JobProgress | null;
  train: LossPoint[];
  validation: LossPoint[];
  logs: { id: number; createdAt: string; text: string }[];
  checkpoints: { id: number; step: number | null; dir: string; createdAt: string }[];
  artifacts: { id: number; kind: string; path: string }[];
}

export const emptyJobView: JobView = {
  lastEventId: 0,
  job: null,
  progress: null,
  train: [],
  validation: [],
  logs: [],
  checkpoints: [],
  artifacts: [],
};

export const jobEventTypes: readonly JobEventType[] = [
  'progress',
  'metrics',
  'log',
  'checkpoint',
  'artifact',
  'state',
];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const finite = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** The points before `step` (steps are whole numbers): a resumed job repeats the steps after its last
 * checkpoint, and those replace the points of the attempt that was cut short. */
const rewound = (points: LossPoint[], step: number) =>
  points.length > 0 && points[points.length - 1].step >= step ? points.filter((p) => p.step < step) : points;

/** A job carried by a `state` frame, either as `{job}` or as the frame's whole data. */
function jobIn(data: Record<string, unknown>): Job | null {
  const candidate = isObject(data.job) ? data.job : data;
  return typeof candidate.id === 'string' && typeof candidate.state === 'string'
    ? (candidate as unknown as Job)
    : null;
}

/** One SSE frame (its `event:` name, the `id:` in force and its JSON data) as a job event. The data is either
 * the stored event itself (`{id, type, data, createdAt}`, a state event with `job` beside it) or that event's
 * data. Throws on data that is not a
 * JSON object, naming the frame. */
export function frameToEvent(name: string, lastEventId: string, data: string): JobEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new Error(`The job stream sent a "${name}" event that is not JSON.`);
  }
  if (!isObject(parsed))
    throw new Error(`The job stream sent a "${name}" event whose data is not an object.`);
  if (typeof parsed.id === 'number' && typeof parsed.type === 'string' && isObject(parsed.data)) {
    const { job, ...event } = parsed as unknown as JobEvent & { job?: unknown };
    // The server's state frames carry the current job beside the stored event.
    return isObject(job) ? { ...event, data: { ...event.data, job } } : event;
  }
  return {
    id: Number(lastEventId) || 0,
    type: name as JobEventType,
    data: parsed,
    createdAt: typeof parsed.createdAt === 'string' ? parsed.createdAt : new Date().toISOString(),
  };
}

/** The view with one more event applied. Events at or below `lastEventId` were applied already (a replay after
 * a reconnect) and leave the view as it is, except `state` frames carrying the job, which always apply. */
export function applyJobEvent(view: JobView, event: JobEvent): JobView {
  const job = event.type === 'state' ? jobIn(event.data) : null;
  if (event.id <= view.lastEventId)
    return job ? { ...view, job, progress: job.progress ?? view.progress } : view;
  const next: JobView = { ...view, lastEventId: event.id };
  const data = event.data;
  switch (event.type) {
    case 'progress':
      next.progress = { ...view.progress, ...(data as JobProgress) };
      break;
    case 'metrics': {
      const step = finite(data.step);
      if (step === null) break;
      const loss = finite(data.loss);
      const validationLoss = finite(data.validationLoss);
      // A series keeps its points before this step, and the other series its points up to it.
      next.train = rewound(view.train, loss !== null ? step : step + 1);
      next.validation = rewound(view.validation, validationLoss !== null ? step : step + 1);
      if (loss !== null) next.train = [...next.train, { step, value: loss }];
      if (validationLoss !== null) next.validation = [...next.validation, { step, value: validationLoss }];
      break;
    }
    case 'log': {
      // Worker log lines are `{line, stream}`; other producers may send `{message}`.
      const text =
        typeof data.line === 'string'
          ? data.line
          : typeof data.message === 'string'
            ? data.message
            : JSON.stringify(data);
      next.logs = [...view.logs, { id: event.id, createdAt: event.createdAt, text }];
      break;
    }
    case 'checkpoint':
      next.checkpoints = [
        ...view.checkpoints,
        { id: event.id, step: finite(data.step), dir: String(data.dir ?? ''), createdAt: event.createdAt },
      ];
      break;
    case 'artifact':
      next.artifacts = [
        ...view.artifacts,
        { id: event.id, kind: String(data.kind ?? ''), path: String(data.path ?? '') },
      ];
      break;
    case 'state':
      if (job) {
        next.job = job;
        next.progress = job.progress ?? view.progress;
      }
      break;
  }
  return next;
}

export const isFinished = (state: Job['state']) =>
  state === 'succeeded' || state === 'failed' || state === 'cancelled';
