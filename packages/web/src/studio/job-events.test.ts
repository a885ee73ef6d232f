import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job, JobEvent } from '../types.ts';
import { applyJobEvent, emptyJobView, frameToEvent, type JobView } from './job-events.ts';

const at = '2026-12-01T03:00:00.000Z';
const event = (id: number, type: JobEvent['type'], data: Record<string, unknown>): JobEvent => ({
  id,
  type,
  data,
  createdAt: at,
});
const job = (state: Job['state'], step: number): Job => ({
  id: 'job-1',
  type: 'finetune',
  name: 'tune',
  state,
  params: {},
  result: null,
  error: null,
  progress: { step, steps: 10 },
  attempts: 1,
  workerId: null,
  wallSeconds: 0,
  hourlyRate: 0,
  cost: 0,
  tokensProcessed: 0,
  createdAt: at,
  startedAt: null,
  finishedAt: null,
});

const history: JobEvent[] = [
  event(1, 'log', { line: '1/6 load the base model', stream: 'stderr' }),
  event(2, 'progress', { stage: 'training', step: 1, steps: 10, etaSeconds: 9 }),
  event(3, 'metrics', { step: 1, loss: 4.2, lr: 0.001 }),
  event(4, 'progress', { step: 2, tokensPerSecond: 812 }),
  event(5, 'metrics', { step: 2, loss: 3.9, validationLoss: 4.0 }),
  event(6, 'checkpoint', { step: 2, dir: 'checkpoints/step-2' }),
  event(7, 'artifact', { kind: 'peft', path: 'adapter/adapter_model.safetensors' }),
];

const fold = (events: JobEvent[], from: JobView = emptyJobView) => events.reduce(applyJobEvent, from);

test('events build the progress, loss curves, logs, checkpoints and artifacts', () => {
  const view = fold(history);
  assert.equal(view.lastEventId, 7);
  // Progress events are partial updates of the latest progress.
  assert.deepEqual(view.progress, {
    stage: 'training',
    step: 2,
    steps: 10,
    etaSeconds: 9,
    tokensPerSecond: 812,
  });
  assert.deepEqual(view.train, [
    { step: 1, value: 4.2 },
    { step: 2, value: 3.9 },
  ]);
  assert.deepEqual(view.validation, [{ step: 2, value: 4.0 }]);
  assert.deepEqual(view.logs, [{ id: 1, createdAt: at, text: '1/6 load the base model' }]);
  assert.deepEqual(view.checkpoints, [{ id: 6, step: 2, dir: 'checkpoints/step-2', createdAt: at }]);
  assert.deepEqual(view.artifacts, [{ id: 7, kind: 'peft', path: 'adapter/adapter_model.safetensors' }]);
});

test('a stream resumed after a drop replays nothing twice, whatever the overlap', () => {
  const whole = fold(history);
  for (let cut = 0; cut <= history.length; cut++) {
    // The reconnect (Last-Event-ID = the last id seen) may still repeat events near the cut.
    const resumed = fold(history.slice(Math.max(0, cut - 2)), fold(history.slice(0, cut)));
    assert.deepEqual(resumed, whole, `cut after ${cut} events`);
  }
});

test('a job resumed from a checkpoint redraws the steps after it', () => {
  const cut = fold([
    event(1, 'metrics', { step: 1, loss: 5 }),
    event(2, 'metrics', { step: 2, loss: 4, validationLoss: 4.5 }),
    event(3, 'metrics', { step: 3, loss: 3.5 }),
    event(4, 'metrics', { step: 4, loss: 3, validationLoss: 3.8 }),
  ]);
  // The checkpoint was at step 2; the second attempt trains steps 3 and 4 again.
  const resumed = fold(
    [event(5, 'metrics', { step: 3, loss: 3.4 }), event(6, 'metrics', { step: 4, loss: 3.1 })],
    cut,
  );
  assert.deepEqual(
    resumed.train.map((p) => [p.step, p.value]),
    [
      [1, 5],
      [2, 4],
      [3, 3.4],
      [4, 3.1],
    ],
  );
  assert.deepEqual(resumed.validation, [{ step: 2, value: 4.5 }]);
});

test('state frames carry the job and apply even when their id was seen', () => {
  let view = fold(history);
  view = applyJobEvent(view, event(8, 'state', { job: job('running', 3) }));
  assert.equal(view.job?.state, 'running');
  assert.deepEqual(view.progress, { step: 3, steps: 10 });
  // The frame sent on connect repeats the newest id but has the current job.
  view = applyJobEvent(view, event(8, 'state', job('succeeded', 10) as unknown as Record<string, unknown>));
  assert.equal(view.job?.state, 'succeeded');
  assert.equal(view.lastEventId, 8);
  // A stored state event without a job (just the new state name) changes nothing but the id.
  assert.equal(applyJobEvent(view, event(9, 'state', { state: 'failed' })).job?.state, 'succeeded');
});

test('frames hold either the stored event or its data; bad data names the frame', () => {
  assert.deepEqual(frameToEvent('metrics', '5', JSON.stringify(history[4])), history[4]);
  // The server's state frames: the stored event with the current job beside it.
  const running = job('running', 4);
  const state = frameToEvent(
    'state',
    '9',
    JSON.stringify({ ...event(9, 'state', { state: 'running' }), job: running }),
  );
  assert.deepEqual(state, event(9, 'state', { state: 'running', job: running }));
  assert.equal(applyJobEvent(emptyJobView, state).job?.state, 'running');
  const fromData = frameToEvent('metrics', '12', '{"step":3,"loss":2.5}');
  assert.equal(fromData.id, 12);
  assert.equal(fromData.type, 'metrics');
  assert.deepEqual(fromData.data, { step: 3, loss: 2.5 });
  assert.throws(() => frameToEvent('log', '1', 'not json'), /"log" event that is not JSON/);
  assert.throws(() => frameToEvent('log', '1', '[1]'), /"log" event whose data is not an object/);
});
