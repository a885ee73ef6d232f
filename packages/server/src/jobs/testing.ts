// Test fixtures for the job tests: the studio's pretraining inputs (a tokenizer and token shards of a small corpus)
// as the outputs of a user's succeeded tokenizer-train and data-pack jobs, so a real `pretrain` job of a few steps
// names them by id and runs in seconds; and a user's dataset of one conversation.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { jobs, type JobType } from '../db/schema.ts';
import { newId } from '../ids.ts';
// Outside the studio's public API, as the tiny model's fixture is.
import { writePretrainInputs } from '../../../studio/src/train/pretrain-fixture.ts';
import { jobDirectory } from './job-folder.ts';

/** The ids of the jobs whose outputs are the pretraining inputs: a pretrain job's `data` and `tokenizer`. */
export interface PretrainJobs {
  data: string;
  tokenizer: string;
}

/**
 * A succeeded job of `userId`'s whose output (`result.out`) is the folder `made`, moved into its run folder under
 * the same name; returns its id.
 */
export async function storedJob(
  ctx: AppContext,
  userId: string,
  type: JobType,
  made: string,
): Promise<string> {
  const id = newId('job');
  const run = join(jobDirectory(ctx.config.home, id), 'run');
  mkdirSync(run, { recursive: true });
  renameSync(made, join(run, basename(made)));
  await ctx.db.insert(jobs).values({
    id,
    userId,
    type,
    name: type,
    state: 'succeeded',
    params: {},
    result: { out: `run/${basename(made)}` },
  });
  return id;
}

/** Stores the pretraining inputs as the outputs of `userId`'s succeeded jobs, one per stage. */
export async function pretrainJobs(ctx: AppContext, userId: string): Promise<PretrainJobs> {
  const made = mkdtempSync(join(ctx.config.home, 'fixture-'));
  await writePretrainInputs(made, { train: 200, validation: 20 });
  const ids = {
    data: await storedJob(ctx, userId, 'data-pack', join(made, 'shards')),
    tokenizer: await storedJob(ctx, userId, 'tokenizer-train', join(made, 'tokenizer')),
  };
  rmSync(made, { recursive: true, force: true });
  return ids;
}

/** Uploads a dataset of one conversation as the user `headers` sign in; returns its id. */
export async function oneConversation(
  app: FastifyInstance,
  headers: Record<string, string>,
): Promise<string> {
  const conversation = {
    messages: [
      { role: 'user', content: 'Who comes after Clara?' },
      { role: 'assistant', content: 'Arr, that be Bruno.' },
    ],
  };
  const uploaded = await app.inject({
    method: 'POST',
    url: '/api/datasets?name=one',
    headers: { ...headers, 'content-type': 'application/x-ndjson' },
    payload: `${JSON.stringify(conversation)}\n`,
  });
  assert.equal(uploaded.statusCode, 201, uploaded.body);
  return uploaded.json().dataset.id;
}

/** A tiny model's training settings (pretrain job params besides data and tokenizer). */
export const tinyPretrain = {
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  context: 32,
  batchSize: 4,
  warmupSteps: 2,
  lr: 0.01,
  minLr: 0.001,
  evalEvery: 4,
  evalBatches: 2,
  checkpointEvery: 4,
  keepCheckpoints: 2,
  threads: 1,
};

/** A pretrain long enough (seconds of training) to be stopped well after its first checkpoint, at step 10. */
export const slowPretrain = {
  ...tinyPretrain,
  hiddenSize: 64,
  intermediateSize: 128,
  context: 64,
  batchSize: 8,
  steps: 600,
  evalEvery: 50,
  checkpointEvery: 10,
};
