// Test fixtures for the job tests: the studio's pretraining inputs (a small corpus, its tokenizer and token
// shards) inside a data folder, so a real `pretrain` job of a few steps runs in seconds.
import { join } from 'node:path';
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
