// `ownlm quickstart`: the whole from-scratch path on the bundled corpus in about ten minutes on two cores —
// prepare the demo corpus, train a BPE tokenizer, pack token shards, train the tiny preset, evaluate it,
// export a GGUF verified against llama.cpp into the model folder, and say where everything is. What
// `npm start` runs when no model exists yet.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
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
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';
import { trainProgress } from '../train-progress.ts';

const usage = `usage: ownlm quickstart [options]

Trains a small language model from scratch on the bundled demo corpus (Brown corpus + nlp-corpus):
data prepare → tokenizer train → data pack → train → evaluate → export a verified GGUF.

options:
  --home DIR         ownlm's data folder (default: $OWNLM_HOME or .ownlm)
  --steps N          optimizer steps (default 800, about ten minutes on two cores)
  --vocab-size N     tokenizer vocabulary (default 4096)
  --seed N           seed for initialization, batches and sampling (default 1)
  --force            train again even if the quickstart model exists
  -h, --help         show this help`;

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

function positiveInteger(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

/** The "text" of every line of a prepared corpus's validation.jsonl. */
function validationTexts(corpus: string): string[] {
  return readFileSync(join(corpus, 'validation.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { text: string }).text);
}

export function ownlmHome(flag?: string): string {
  return resolve(flag ?? process.env.OWNLM_HOME ?? '.ownlm');
}

export const command: Command = {
  summary: 'train, evaluate and export a small model from scratch on the bundled corpus',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        home: { type: 'string' },
        steps: { type: 'string' },
        'vocab-size': { type: 'string' },
        seed: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const home = ownlmHome(values.home);
    mkdirSync(home, { recursive: true });
    const steps = positiveInteger(values.steps, 800, 'steps');
    const vocabSize = positiveInteger(values['vocab-size'], 4096, 'vocab-size');
    const seed = positiveInteger(values.seed, 1, 'seed');
    const work = join(home, 'quickstart');
    const dirs = {
      corpus: join(work, 'corpus'),
      tokenizer: join(work, 'tokenizer'),
      shards: join(work, 'shards'),
      run: join(work, 'run'),
    };
    const gguf = join(home, 'models', 'quickstart-f16.gguf');
    if (existsSync(gguf) && !values.force) {
      console.log(
        `The quickstart model exists: ${gguf}\n${howToUse(bestCheckpoint(dirs.run), gguf)}\nRun \`ownlm quickstart --force\` to train it again.`,
      );
      return 0;
    }
    console.log(
      `ownlm quickstart: working in ${work} (engine: ${backend().name}, ${backend().threads()} threads)`,
    );
    const timings: [string, number][] = [];
    let started = performance.now();
    const lap = (stage: string) => {
      timings.push([stage, (performance.now() - started) / 1000]);
      started = performance.now();
    };

    let bar: ProgressBar | undefined;
    let phase = '';
    /** One bar per phase of a stage, each with its own total and unit. */
    const phaseBar = (name: string, total: number, unit: string): ProgressBar => {
      if (name !== phase || !bar) {
        bar?.finish();
        phase = name;
        bar = new ProgressBar({ label: `  ${name}`, total, unit });
      }
      return bar;
    };
    const endPhase = () => {
      bar?.finish();
      bar = undefined;
      phase = '';
    };

    console.log('\n1/6 prepare the demo corpus');
    const report = await prepareCorpus(
      { sources: demoCorpusSources(), outputDir: dirs.corpus, overwrite: true },
      {
        onProgress: (p) =>
          phaseBar(p.phase, p.bytesTotal / 1e6, 'MB').update(p.bytesDone / 1e6, `${p.documents} docs`),
      },
    );
    endPhase();
    console.log(
      `  ${report.output.train.documents} training and ${report.output.validation.documents} validation documents`,
    );
    lap('data prepare');

    console.log(`\n2/6 train a byte-level BPE tokenizer (vocabulary ${vocabSize})`);
    const { tokenizer } = await trainTokenizer({
      inputs: [dirs.corpus],
      outDir: dirs.tokenizer,
      vocabSize,
      overwrite: true,
      onProgress: (p) =>
        p.phase === 'count'
          ? phaseBar('count', p.total / 1e6, 'MB').update(p.done / 1e6)
          : phaseBar('merge', p.total, 'merges').update(p.done),
    });
    endPhase();
    lap('tokenizer train');

    console.log('\n3/6 pack token shards');
    const index = await packCorpus({
      corpus: dirs.corpus,
      tokenizer: dirs.tokenizer,
      outDir: dirs.shards,
      overwrite: true,
      onProgress: (p) => phaseBar('encode', p.total / 1e6, 'MB').update(p.done / 1e6),
    });
    endPhase();
    console.log(
      `  ${index.splits.train.tokens} training tokens, ${index.splits.validation?.tokens ?? 0} validation tokens`,
    );
    lap('data pack');

    console.log(`\n4/6 train the tiny Llama preset for ${steps} steps`);
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
    const progress = trainProgress();
    const { model, checkpoint } = runTraining(config, { onEvent: progress.onEvent });
    lap('train');

    console.log('\n5/6 evaluate on the validation split');
    const evaluation = evaluateText(model, tokenizer, validationTexts(dirs.corpus), {
      context: config.context,
      onProgress: (done, total) => phaseBar('eval', total, 'windows').update(done),
    });
    endPhase();
    console.log(
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
      console.log(`  > ${prompt}${tokenizer.decode(tokens.filter((t) => !stop.includes(t)))}`);
    }
    lap('evaluate');

    console.log('\n6/6 export a GGUF and verify it in llama.cpp');
    mkdirSync(join(home, 'models'), { recursive: true });
    const exported = await exportLoadedModel(model, tokenizer, checkpoint, {
      model: checkpoint,
      out: gguf,
      format: 'gguf',
      dtype: 'f16',
      overwrite: true,
      name: 'ownlm-quickstart',
    });
    console.log(
      `  ${gguf} (${(exported.bytes / 1e6).toFixed(1)} MB): llama.cpp gives the same tokens as the engine on ${exported.prompts.length} prompts`,
    );
    lap('export');

    console.log(`\nStage times: ${timings.map(([stage, s]) => `${stage} ${s.toFixed(0)} s`).join(', ')}`);
    console.log(
      `\nDone.\n  corpus and report: ${dirs.corpus}\n  tokenizer: ${dirs.tokenizer}\n  checkpoints: ${join(dirs.run, 'checkpoints')}\n  metrics: ${join(dirs.run, 'metrics.jsonl')}\n  model: ${gguf}\n${howToUse(checkpoint, gguf)}`,
    );
    return 0;
  },
};

function howToUse(checkpoint: string | null, gguf: string): string {
  const model = checkpoint ?? '<checkpoint folder>';
  return [
    'Try it:',
    `  ownlm sample --model ${model} --prompt "The president said"`,
    `  ownlm eval --model ${model} --text FILE`,
    `  llama-cli -m ${gguf} -p "The president said"     (llama.cpp; Ollama and LM Studio load the same file)`,
  ].join('\n');
}
