import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminPath, chatPath, datasetPath, jobPath, parseRoute } from './routes.ts';

test('paths map to pages, ids decoded, and back', () => {
  assert.deepEqual(parseRoute('/'), { page: 'chat', chatId: null });
  assert.deepEqual(parseRoute(chatPath('c 1')), { page: 'chat', chatId: 'c 1' });
  assert.deepEqual(parseRoute('/keys'), { page: 'keys' });
  assert.deepEqual(parseRoute('/account'), { page: 'account' });
  assert.deepEqual(parseRoute('/datasets'), { page: 'datasets', datasetId: null });
  assert.deepEqual(parseRoute(datasetPath('ds/1')), { page: 'datasets', datasetId: 'ds/1' });
  assert.deepEqual(parseRoute('/jobs'), { page: 'jobs', jobId: null });
  assert.deepEqual(parseRoute(jobPath('job_9')), { page: 'jobs', jobId: 'job_9' });
  assert.deepEqual(parseRoute('/finetune'), { page: 'finetune' });
  assert.deepEqual(parseRoute('/models'), { page: 'models' });
  assert.deepEqual(parseRoute('/webhooks'), { page: 'webhooks' });
  assert.deepEqual(parseRoute('/admin'), { page: 'admin', tab: 'safety' });
  assert.deepEqual(parseRoute(adminPath('safety')), { page: 'admin', tab: 'safety' });
  assert.deepEqual(parseRoute('/admin/nothing'), { page: 'chat', chatId: null });
  // Unknown paths open a new chat rather than an empty page.
  assert.deepEqual(parseRoute('/jobs/1/extra'), { page: 'chat', chatId: null });
});
