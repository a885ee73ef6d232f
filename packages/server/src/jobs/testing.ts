// Test fixtures for the job tests: a small corpus, its tokenizer and token shards inside a data folder, so a
// real `pretrain` job of a few steps runs in seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '@ownlm/engine';
import { packCorpus, trainTokenizer } from '@ownlm/studio';

/** Writes `<home>/data/{corpus,tokenizer,shards}` and returns the shard and tokenizer folders. */
export async function pretrainInputs(home: string): Promise<{ data: string; tokenizer: string }> {
  const random = new Random(3);
  const subjects = ['the cat', 'a dog', 'my friend', 'the old man', 'our teacher', 'a bird'];
  const verbs = ['sees', 'likes', 'finds', 'follows', 'draws', 'calls'];
  const objects = ['the river', 'a red ball', 'the garden', 'some bread', 'the moon', 'a small house'];
  const doc = (i: number) => ({
    id: `d${i}`,
    source: 'synthetic',
    text: Array.from(
      { length: 12 },
      () => `${subjects[random.int(6)]} ${verbs[random.int(6)]} ${objects[random.int(6)]}.`,
    ).join(' '),
  });
  const corpus = join(home, 'data', 'corpus');
  mkdirSync(corpus, { recursive: true });
  const lines = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => JSON.stringify(doc(from + i))).join('\n') + '\n';
  writeFileSync(join(corpus, 'train.jsonl'), lines(0, 200));
  writeFileSync(join(corpus, 'validation.jsonl'), lines(1000, 20));
  const tokenizer = join(home, 'data', 'tokenizer');
  await trainTokenizer({ inputs: [corpus], outDir: tokenizer, vocabSize: 300, workers: 0 });
  const data = join(home, 'data', 'shards');
  await packCorpus({ corpus, tokenizer, outDir: data, workers: 1 });
  return { data, tokenizer };
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
