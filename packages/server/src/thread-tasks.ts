// What the app's worker threads (./threads.ts) run: each task a synchronous function of a cloneable request.
import { serveRequests } from '@ownlm/studio';
import { datasetTexts, storeDataset } from './datasets/upload.ts';
import { preflightInThread } from './jobs/preflight-thread.ts';

export const threadTasks = {
  'dataset-texts': datasetTexts,
  'dataset-store': storeDataset,
  'finetune-preflight': preflightInThread,
};

export type ThreadTasks = typeof threadTasks;

serveRequests((message) => {
  const { task, request } = message as { task: keyof ThreadTasks; request: never };
  return threadTasks[task](request);
});
