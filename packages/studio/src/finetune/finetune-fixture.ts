// A base model and a conversation dataset small enough to fine-tune in seconds, for the fine-tune tests: the
// tiny model of the export tests (trained on a cycle of sentences about ten people) saved as a model folder,
// and conversations about the same people answered in a distinctive voice the base has never seen.
import { join } from 'node:path';
import { Random } from '@ownlm/engine';
import { trainTinyModel } from '../formats/fixtures/tiny-model.ts';
import { writeHfFolder } from '../formats/hf-folder.ts';
import type { Conversation } from './conversation.ts';
import { datasetStats } from './dataset-stats.ts';
import { writeConversationDataset } from './dataset.ts';

const PEOPLE = ['Anna', 'Boris', 'Clara', 'Dmitri', 'Emma', 'Felix', 'Greta', 'Hugo', 'Ines', 'Jonas'];

/** Trains the tiny model (128 positions, so a few chat turns fit) and writes it as a folder; returns it. */
export async function writeTinyBase(dir: string): Promise<string> {
  const tiny = await trainTinyModel(join(dir, 'tiny'), {
    steps: 120,
    config: { max_position_embeddings: 128 },
  });
  const out = join(dir, 'base');
  const tensors = new Map([...tiny.model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]));
  writeHfFolder(out, { config: tiny.model.config, tensors, tokenizerDir: tiny.tokenizerDir });
  return out;
}

/** One conversation: a question about who follows whom, answered by a pirate. */
export function voiceConversation(random: Random): Conversation {
  const i = random.int(PEOPLE.length);
  const person = PEOPLE[i];
  const next = PEOPLE[(i + 1) % PEOPLE.length];
  return {
    messages: [
      { role: 'user', content: `Who comes after ${person}?` },
      { role: 'assistant', content: `Arr, after ${person} comes ${next}, matey!` },
    ],
  };
}

/** Writes a dataset folder of `train` + `validation` pirate conversations; returns its path. */
export function writeVoiceDataset(dir: string, train: number, validation: number, seed = 3): string {
  const random = new Random(seed);
  const make = (n: number) => Array.from({ length: n }, () => voiceConversation(random));
  const splits = { train: make(train), validation: make(validation) };
  const out = join(dir, 'dataset');
  writeConversationDataset(out, {
    ...splits,
    sourceFormat: 'openai',
    stats: datasetStats([...splits.train, ...splits.validation]),
    rejected: [],
  });
  return out;
}
