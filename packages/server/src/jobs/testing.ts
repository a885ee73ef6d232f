// Test fixtures for the job tests: the studio's pretraining inputs (a small corpus, its tokenizer and token
// shards) inside a data folder, so a real `pretrain` job of a few steps runs in seconds; and a signed-up user.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
// Outside the studio's public API, as the tiny model's fixture is.
import { writePretrainInputs } from '../../../studio/src/train/pretrain-fixture.ts';

/** Writes `<home>/data/{corpus,tokenizer,shards}` and returns the shard and tokenizer folders. */
export function pretrainInputs(home: string): Promise<{ data: string; tokenizer: string }> {
  return writePretrainInputs(join(home, 'data'), { train: 200, validation: 20 });
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

/** Registers a user on the app and returns the headers of their session (its cookie and CSRF token). */
export async function signUp(app: FastifyInstance, email: string): Promise<Record<string, string>> {
  const registered = await app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email, password: 'a long enough password', name: email },
  });
  assert.equal(registered.statusCode, 201, registered.body);
  const cookie = registered.cookies.find((c) => c.name === 'ownlm_session')!;
  return { cookie: `ownlm_session=${cookie.value}`, 'x-csrf-token': registered.json().csrfToken };
}
