// Real GGUF files for the runtime's tests and benchmarks, made here rather than downloaded: a tiny chat Llama
// trained in seconds and, for benchmarks, random weights in the shape of an engine preset. Each is made once
// per process and cached under os.tmpdir() in a folder named by a hash of what produces it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaModel, modelPresets, Random, type ModelPresetName } from '@ownlm/engine';
import { demoCorpusSources, exportLoadedModel, trainTokenizer, type Tokenizer } from '@ownlm/studio';
// The studio's tiny-model fixture (its prose is a cycle of sentences, each naming the next one's subject),
// outside its public API.
import { syntheticDocuments, trainTinyModel } from '../../../studio/src/formats/fixtures/tiny-model.ts';

export interface ModelFiles {
  /** The model as GGUF (F32 for the tiny model). */
  gguf: string;
  /** The same weights and tokenizer as a Hugging Face folder, for `loadModelFolder` in the engine. */
  folder: string;
}

/** The files whose code makes the models: a change to any of them makes new ones. */
const sources = [
  import.meta.url,
  new URL('../../../studio/src/formats/fixtures/tiny-model.ts', import.meta.url),
  new URL('../../../studio/src/train/loop.ts', import.meta.url),
].map((url) => fileURLToPath(url));

function cacheKey(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const source of sources) hash.update(readFileSync(source));
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}

/**
 * The folder holding `model.gguf` (and what else `build` writes), built into a private folder and renamed into
 * place, so concurrent processes never see half of it.
 */
async function cached(name: string, build: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(tmpdir(), `ownlm-${name}`);
  const gguf = join(dir, 'model.gguf');
  if (existsSync(gguf)) return dir;
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await build(staging);
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    // Another process renamed its copy into place first.
    if (!existsSync(gguf)) throw error;
  }
  return dir;
}

function exportTo(
  out: string,
  format: 'gguf' | 'hf',
  dtype: 'f32' | 'q8_0',
  model: LlamaModel,
  tokenizer: Tokenizer,
  tokenizerDir: string,
) {
  return exportLoadedModel(model, tokenizer, tokenizerDir, {
    model: out,
    out,
    format,
    dtype,
    name: 'ownlm-test',
    verify: false,
  });
}

/**
 * The studio's prose, and conversations in ChatML about it: the assistant answers a sentence with the next one,
 * or, asked for JSON, with `{"name": …, "next": …}`, and ends its turn. So greedy chat is confident, ends with
 * <|im_end|>, and a JSON grammar's first brace leads to a complete object rather than to a near-tie.
 */
function tinyCorpus(seed: number): string[] {
  const random = new Random(seed);
  const prose = syntheticDocuments(240, seed);
  const turn = (role: string, content: string) => `<|im_start|>${role}\n${content}<|im_end|>\n`;
  const chats = prose.flatMap((document) => {
    const sentences = document.split(/(?<=\.)[ \n]/);
    const [question, answer, after] = sentences.slice(random.int(sentences.length - 3));
    const subject = (sentence: string) => sentence.split(' ')[0];
    const json = `{"name": "${subject(answer)}", "next": "${subject(after)}"}`;
    return random.int(3) === 0
      ? [turn('system', 'Reply in JSON.') + turn('user', question) + turn('assistant', json)]
      : [turn('user', question) + turn('assistant', answer)];
  });
  const documents = [...prose, ...chats];
  for (let i = documents.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [documents[i], documents[j]] = [documents[j], documents[i]];
  }
  return documents;
}

let tiny: Promise<ModelFiles> | null = null;
const TINY_STEPS = 400;

/**
 * The tiny chat Llama (vocabulary 384 with the ChatML markers and template, context 64) as an F32 GGUF, and as
 * a Hugging Face folder for the engine. A few seconds on 2 cores the first time.
 */
export function tinyModel(): Promise<ModelFiles> {
  tiny ??= cached(`tiny-model-${cacheKey('tiny', String(TINY_STEPS))}`, async (dir) => {
    const seed = 7;
    const { model, tokenizer, tokenizerDir } = await trainTinyModel(dir, {
      steps: TINY_STEPS,
      seed,
      documents: tinyCorpus(seed),
    });
    await exportTo(join(dir, 'model.gguf'), 'gguf', 'f32', model, tokenizer, tokenizerDir);
    await exportTo(join(dir, 'hf'), 'hf', 'f32', model, tokenizer, tokenizerDir);
  }).then((dir) => ({ gguf: join(dir, 'model.gguf'), folder: join(dir, 'hf') }));
  return tiny;
}

const presets = new Map<string, Promise<string>>();

/**
 * Random weights in the shape of an engine preset, with a tokenizer of the preset's vocabulary trained on the
 * demo corpus, as a Q8_0 GGUF (its path): for speed measurements, where what the model says does not matter.
 */
export function presetModel(preset: ModelPresetName): Promise<string> {
  let files = presets.get(preset);
  if (!files) {
    files = cached(`preset-model-${cacheKey('preset', preset)}`, async (dir) => {
      const texts: string[] = [];
      for (const source of demoCorpusSources())
        for await (const document of source.documents()) texts.push(document.text);
      writeFileSync(join(dir, 'corpus.txt'), texts.join('\n'));
      const { config } = modelPresets[preset];
      const { tokenizer } = await trainTokenizer({
        inputs: [join(dir, 'corpus.txt')],
        outDir: join(dir, 'tokenizer'),
        vocabSize: config.vocab_size,
      });
      const model = new LlamaModel({ ...config, vocab_size: tokenizer.vocabSize }, { seed: 1 });
      await exportTo(join(dir, 'model.gguf'), 'gguf', 'q8_0', model, tokenizer, join(dir, 'tokenizer'));
      rmSync(join(dir, 'corpus.txt'));
    }).then((dir) => join(dir, 'model.gguf'));
    presets.set(preset, files);
  }
  return files;
}
