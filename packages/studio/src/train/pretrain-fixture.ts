// Pretraining inputs small enough that a run of a few steps takes seconds, for the trainer's tests and the
// server's job tests: a corpus of sentences drawn from a few subjects, verbs and objects (enough structure
// for a loss curve), its tokenizer and its token shards.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '@ownlm/engine';
import { packCorpus } from '../data/pack.ts';
import { trainTokenizer } from '../tokenizer/train.ts';

/**
 * Writes `<dir>/corpus` (`train` and `validation` documents), `<dir>/tokenizer` (300 tokens) and
 * `<dir>/shards`; returns the shard and tokenizer folders.
 */
export async function writePretrainInputs(
  dir: string,
  documents: { train: number; validation: number },
): Promise<{ data: string; tokenizer: string }> {
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
  const lines = (first: number, count: number) =>
    Array.from({ length: count }, (_, i) => JSON.stringify(doc(first + i))).join('\n') + '\n';
  const corpus = join(dir, 'corpus');
  mkdirSync(corpus, { recursive: true });
  writeFileSync(join(corpus, 'train.jsonl'), lines(0, documents.train));
  writeFileSync(join(corpus, 'validation.jsonl'), lines(1000, documents.validation));
  const tokenizer = join(dir, 'tokenizer');
  await trainTokenizer({ inputs: [corpus], outDir: tokenizer, vocabSize: 300, workers: 0 });
  const data = join(dir, 'shards');
  await packCorpus({ corpus, tokenizer, outDir: data, workers: 1 });
  return { data, tokenizer };
}
