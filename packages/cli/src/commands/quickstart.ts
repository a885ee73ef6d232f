// `ownlm quickstart`: the whole from-scratch path on the bundled corpus in about ten minutes on two cores —
// prepare the demo corpus, train a BPE tokenizer, pack token shards, train the tiny preset, evaluate it,
// export a GGUF verified against llama.cpp into the model folder, and say where everything is. What
// `npm start` runs when no model exists yet, and what the server's first-run page drives through `--events -`.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { backend, generateTokens } from '@ownlm/engine';
import {
  bestCheckpoint,
  demoCorpusSources,
  evaluateText,
  exportLoadedModel,
  packCorpus,
  prepareCorpus,
  resolveConfig,
  runTraining,
  trainTokenizer,
  type TrainConfig,
  type TrainEvent,
} from '@ownlm/studio';
import { defineCommand, eventsOption, positiveInteger } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';
import { trainProgress } from '../train-progress.ts';

/** The six stages, in order; `quickstart-stage` events carry these names. */
export const quickstartStages = [
  'prepare the demo corpus',
  'train a byte-level BPE tokenizer',
  'pack token shards',
  'train the tiny Llama preset',
  'evaluate on the validation split',
  'export a GGUF and verify it in llama.cpp',
] as const;

/**
 * What `--events` writes besides the TrainEvents of stage 4, one JSON object per line. `quickstart-progress`
 * comes at most four times a second per phase, and once more when the phase ends; `quickstart-done` is the
 * last line of a successful run, also when the model existed already (`existing: true`, evaluation from the
 * lineage file when there is one).
 */
export type QuickstartEvent =
  | { type: 'quickstart-stage'; index: number; total: number; stage: string }
  | { type: 'quickstart-progress'; stage: string; phase: string; done: number; total: number; unit: string }
  | {
      type: 'quickstart-done';
      model: string;
      perplexity: number | null;
      bitsPerByte: number | null;
      existing: boolean;
    };

/** `<model>.lineage.json`: how the quickstart model was made; read by the server's model registry. */
export interface QuickstartLineage {
  trainedBy: 'ownlm quickstart';
  corpus: string;
  tokenizer: string;
  checkpoint: string;
  steps: number;
  seed: number;
  vocabSize: number;
  evaluation: { perplexity: number; bitsPerByte: number; tokens: number };
  createdAt: string;
}

/** The tiny preset at a context and batch that train in about ten minutes on two cores. */
const quickstartRun: Partial<TrainConfig> = {
  model: 'tiny',
  context: 256,
  batch_size: 8,
  lr: 2e-3,
  min_lr: 2e-4,
  eval_every: 200,
  eval_batches: 8,
  sample_every: 0,
  checkpoint_every: 200,
  checkpoint_minutes: 5,
  keep_checkpoints: 2,
};

/** The "text" of every line of a prepared corpus's validation.jsonl. */
function validationTexts(corpus: string): string[] {
  return readFileSync(join(corpus, 'validation.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { text: string }).text);
}

/** The lineage beside a model file, or null when there is none or it does not parse. */
function readLineage(gguf: string): Partial<QuickstartLineage> | null {
  try {
    return JSON.parse(readFileSync(`${gguf}.lineage.json`, 'utf8')) as Partial<QuickstartLineage>;
  } catch {
    return null;
  }
}

/** Writes `<gguf>.lineage.json` through a temporary file, so a reader never sees half of it. */
function writeLineage(gguf: string, lineage: QuickstartLineage): void {
  const file = `${gguf}.lineage.json`;
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(lineage, null, 2)}\n`);
  renameSync(temporary, file);
}

export function ownlmHome(flag?: string): string {
  return resolve(flag ?? process.env.OWNLM_HOME ?? '.ownlm');
}

export const command = defineCommand({
  name: 'quickstart',
  summary: 'train, evaluate and export a small model from scratch on the bundled corpus',
  usage: 'ownlm quickstart [options]',
  about: `Trains a small language model from scratch on the bundled demo corpus (Brown corpus + nlp-corpus):
data prepare → tokenizer train → data pack → train → evaluate → export a verified GGUF.`,
  options: {
    home: {
      kind: 'string',
      placeholder: 'DIR',
      defaultHelp: '$OWNLM_HOME or .ownlm',
      help: "ownlm's data folder",
    },
    steps: {
      kind: 'integer',
      default: 800,
      rule: positiveInteger,
      help: 'optimizer steps, about ten minutes on two cores',
    },
    vocab_size: { kind: 'integer', default: 4096, rule: positiveInteger, help: 'tokenizer vocabulary' },
    seed: {
      kind: 'integer',
      default: 1,
      rule: positiveInteger,
      help: 'seed for initialization, batches and sampling',
    },
    force: { kind: 'boolean', help: 'train again even if the quickstart model exists' },
    events: eventsOption(
      'quickstart-stage, quickstart-progress, the training events and quickstart-done (with the model path)',
    ),
  },
  notes:
    'Beside the GGUF it writes MODEL.lineage.json: corpus, tokenizer, checkpoint, steps, seed and evaluation.',
  async run({ values }) {
    // With `--events -` stdout carries only JSON lines; everything for a person goes to stderr.
    const human = values.events === '-' ? process.stderr : process.stdout;
    const say = (text: string) => human.write(`${text}\n`);
    const home = ownlmHome(values.home);
    mkdirSync(home, { recursive: true });
    const { steps, vocab_size: vocabSize, seed } = values;
    const work = join(home, 'quickstart');
    const dirs = {
      corpus: join(work, 'corpus'),
      tokenizer: join(work, 'tokenizer'),
      shards: join(work, 'shards'),
      run: join(work, 'run'),
    };
    const gguf = join(home, 'models', 'quickstart-f16.gguf');
    const progress = trainProgress({ events: values.events });
    const emit = (event: QuickstartEvent) => progress.emit(event);
    try {
      if (existsSync(gguf) && !values.force) {
        say(
          `The quickstart model exists: ${gguf}\n${howToUse(bestCheckpoint(dirs.run), gguf)}\nRun \`ownlm quickstart --force\` to train it again.`,
        );
        const evaluation = readLineage(gguf)?.evaluation;
        emit({
          type: 'quickstart-done',
          model: gguf,
          perplexity: evaluation?.perplexity ?? null,
          bitsPerByte: evaluation?.bitsPerByte ?? null,
          existing: true,
        });
        return 0;
      }
      await runQuickstart({
        home,
        steps,
        vocabSize,
        seed,
        dirs,
        gguf,
        say,
        emit,
        onTrainEvent: progress.onEvent,
      });
      return 0;
    } finally {
      await progress.close();
    }
  },
});

interface QuickstartRun {
  home: string;
  steps: number;
  vocabSize: number;
  seed: number;
  dirs: { corpus: string; tokenizer: string; shards: string; run: string };
  gguf: string;
  /** A line for a person. */
  say: (text: string) => void;
  emit: (event: QuickstartEvent) => void;
  onTrainEvent: (event: TrainEvent) => void;
}

async function runQuickstart({
  home,
  steps,
  vocabSize,
  seed,
  dirs,
  gguf,
  say,
  emit,
  onTrainEvent,
}: QuickstartRun): Promise<void> {
  say(
    `ownlm quickstart: working in ${join(home, 'quickstart')} (engine: ${backend().name}, ${backend().threads()} threads)`,
  );
  const timings: [string, number][] = [];
  let started = performance.now();
  const lap = (stage: string) => {
    timings.push([stage, (performance.now() - started) / 1000]);
    started = performance.now();
  };
  let stage = '';
  /** Starts stage `index` (1-based): a heading for a person, a `quickstart-stage` event for a machine. */
  const beginStage = (index: number, detail = '') => {
    stage = quickstartStages[index - 1];
    say(`\n${index}/${quickstartStages.length} ${stage}${detail}`);
    emit({ type: 'quickstart-stage', index, total: quickstartStages.length, stage });
  };

  let bar: ProgressBar | undefined;
  let phase = '';
  let last: QuickstartEvent | null = null;
  let lastEmitted = 0;
  /** One bar per phase of a stage, each with its own total and unit; events at most four times a second. */
  const phaseProgress = (name: string, total: number, unit: string, done: number, detail?: string) => {
    if (name !== phase || !bar) {
      endPhase();
      phase = name;
      bar = new ProgressBar({ label: `  ${name}`, total, unit });
    }
    bar.update(done, detail);
    last = { type: 'quickstart-progress', stage, phase: name, done, total, unit };
    if (performance.now() - lastEmitted >= 250) {
      lastEmitted = performance.now();
      emit(last);
      last = null;
    }
  };
  const endPhase = () => {
    bar?.finish();
    if (last) emit(last);
    bar = undefined;
    last = null;
    lastEmitted = 0;
    phase = '';
  };

  beginStage(1);
  const report = await prepareCorpus(
    { sources: demoCorpusSources(), outputDir: dirs.corpus, overwrite: true },
    {
      onProgress: (p) =>
        phaseProgress(p.phase, p.bytesTotal / 1e6, 'MB', p.bytesDone / 1e6, `${p.documents} docs`),
    },
  );
  endPhase();
  say(
    `  ${report.output.train.documents} training and ${report.output.validation.documents} validation documents`,
  );
  lap('data prepare');

  beginStage(2, ` (vocabulary ${vocabSize})`);
  const { tokenizer } = await trainTokenizer({
    inputs: [dirs.corpus],
    outDir: dirs.tokenizer,
    vocabSize,
    overwrite: true,
    onProgress: (p) =>
      p.phase === 'count'
        ? phaseProgress('count', p.total / 1e6, 'MB', p.done / 1e6)
        : phaseProgress('merge', p.total, 'merges', p.done),
  });
  endPhase();
  lap('tokenizer train');

  beginStage(3);
  const index = await packCorpus({
    corpus: dirs.corpus,
    tokenizer: dirs.tokenizer,
    outDir: dirs.shards,
    overwrite: true,
    onProgress: (p) => phaseProgress('encode', p.total / 1e6, 'MB', p.done / 1e6),
  });
  endPhase();
  say(
    `  ${index.splits.train.tokens} training tokens, ${index.splits.validation?.tokens ?? 0} validation tokens`,
  );
  lap('data pack');

  beginStage(4, ` for ${steps} steps`);
  const config = resolveConfig(
    {
      ...quickstartRun,
      data: dirs.shards,
      tokenizer: dirs.tokenizer,
      out: dirs.run,
      steps,
      seed,
      warmup_steps: Math.min(100, Math.ceil(steps / 10)),
    },
    'quickstart',
  );
  const { model, checkpoint } = runTraining(config, { onEvent: onTrainEvent });
  lap('train');

  beginStage(5);
  const evaluation = evaluateText(model, tokenizer, validationTexts(dirs.corpus), {
    context: config.context,
    onProgress: (done, total) => phaseProgress('eval', total, 'windows', done),
  });
  endPhase();
  say(
    `  perplexity ${evaluation.perplexity.toFixed(1)}, ${evaluation.bitsPerByte.toFixed(3)} bits per byte over ${evaluation.tokens} tokens`,
  );
  const stop = tokenizer.eosId === null ? [] : [tokenizer.eosId];
  for (const [i, prompt] of ['The president said', 'In the morning', 'She looked at the'].entries()) {
    const ids = tokenizer.encode(prompt);
    const tokens = [
      ...generateTokens(model, ids, {
        maxNewTokens: 32,
        temperature: 0.8,
        topK: 40,
        seed: seed + i,
        stopTokens: stop,
      }),
    ];
    say(`  > ${prompt}${tokenizer.decode(tokens.filter((t) => !stop.includes(t)))}`);
  }
  lap('evaluate');

  beginStage(6);
  mkdirSync(join(home, 'models'), { recursive: true });
  // A lineage left from an earlier model must not describe this one if the export fails half way.
  rmSync(`${gguf}.lineage.json`, { force: true });
  const exported = await exportLoadedModel(model, tokenizer, checkpoint, {
    model: checkpoint,
    out: gguf,
    format: 'gguf',
    dtype: 'f16',
    overwrite: true,
    name: 'ownlm-quickstart',
  });
  writeLineage(gguf, {
    trainedBy: 'ownlm quickstart',
    corpus: dirs.corpus,
    tokenizer: dirs.tokenizer,
    checkpoint,
    steps,
    seed,
    vocabSize,
    evaluation: {
      perplexity: evaluation.perplexity,
      bitsPerByte: evaluation.bitsPerByte,
      tokens: evaluation.tokens,
    },
    createdAt: new Date().toISOString(),
  });
  say(
    `  ${gguf} (${(exported.bytes / 1e6).toFixed(1)} MB): llama.cpp gives the same tokens as the engine on ${exported.prompts.length} prompts`,
  );
  lap('export');

  say(`\nStage times: ${timings.map(([name, s]) => `${name} ${s.toFixed(0)} s`).join(', ')}`);
  say(
    `\nDone.\n  corpus and report: ${dirs.corpus}\n  tokenizer: ${dirs.tokenizer}\n  checkpoints: ${join(dirs.run, 'checkpoints')}\n  metrics: ${join(dirs.run, 'metrics.jsonl')}\n  model: ${gguf}\n  lineage: ${gguf}.lineage.json\n${howToUse(checkpoint, gguf)}`,
  );
  emit({
    type: 'quickstart-done',
    model: gguf,
    perplexity: evaluation.perplexity,
    bitsPerByte: evaluation.bitsPerByte,
    existing: false,
  });
}

function howToUse(checkpoint: string | null, gguf: string): string {
  const model = checkpoint ?? '<checkpoint folder>';
  return [
    'Try it:',
    `  ownlm sample --model ${model} --prompt "The president said"`,
    `  ownlm eval --model ${model} --text FILE`,
    `  llama-cli -m ${gguf} -p "The president said"     (llama.cpp; Ollama and LM Studio load the same file)`,
  ].join('\n');
}
