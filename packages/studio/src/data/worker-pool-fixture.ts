// A worker for worker-pool.test.ts: answers a request with its thread's id, or exits as the request asks; with
// workerData 'fail-start' its module throws before serving anything.
import { threadId, workerData } from 'node:worker_threads';
import { serveRequests } from './worker-pool.ts';

if (workerData === 'fail-start') throw new Error('this module cannot start');

serveRequests((message) => {
  if (message === 'exit') process.exit(3);
  return threadId;
});
