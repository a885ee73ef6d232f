// `ownlm demo`: the whole from-scratch path on the bundled corpus, in a few minutes on a laptop CPU —
// prepare the demo corpus, train a BPE tokenizer, pack token shards, train a small Llama with the engine,
// report validation perplexity and print samples. What `npm start` runs.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backend, generateTokens } from '@ownlm/engine';
import {
  demoCorpusSources,
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

const usage = `usage: ownlm demo [options]

Trains a small language model from scratch on the bundled demo corpus (Brown corpus + nlp-corpus) and
samples from it: data prepare → tokenizer train → data pack → train → evaluate → sample.

options:
  --out DIR          working folder (default .ownlm/demo)
  --steps N          optimizer steps (default 400)
  --vocab-size N     tokenizer vocabulary (default 4096)
  --seed N           seed for initialization, batches and sampling (default 1)
  -h, --help         show this help`;

/** Small enough to train in minutes on 2 cores, big enough to learn word order from the demo corpus. */
const demoRun: Partial<TrainConfig> = {
  model: 'tiny',
  hidden_size: 192,
  intermediate_size: 512,
  num_hidden_layers: 4,
  num_attention_heads: 6,
  context: 128,
  batch_size: 16,
  lr: 3e-3,
  min_lr: 3e-4,
  eval_every: 0,
  eval_batches: 8,
  checkpoint_every: 0,
  keep_checkpoints: 1,
};

function positiveInteger(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

export const command: Command = {
  summary: 'train a small model from scratch on the bundled corpus and sample from it',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        steps: { type: 'string' },
        'vocab-size': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const out = resolve(values.out ?? '.ownlm/demo');
    const steps = positiveInteger(values.steps, 400, 'steps');
    const vocabSize = positiveInteger(values['vocab-size'], 4096, 'vocab-size');
    const seed = positiveInteger(values.seed, 1, 'seed');
    const dirs = {
      corpus: join(out, 'corpus'),
      tokenizer: join(out, 'tokenizer'),
      shards: join(out, 'shards'),
      run: join(out, 'run'),
    };
    console.log(
      `ownlm demo: working in ${out} (engine backend: ${backend().name}, ${backend().threads()} threads)`,
    );

    console.log('\n1/5 prepare the demo corpus');
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

    console.log(`\n2/5 train a byte-level BPE tokenizer (vocabulary ${vocabSize})`);
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

    console.log('\n3/5 pack token shards');
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

    console.log(`\n4/5 train a small Llama for ${steps} steps`);
    const config = resolveConfig(
      {
        ...demoRun,
        data: dirs.shards,
        tokenizer: dirs.tokenizer,
        out: dirs.run,
        steps,
        seed,
        warmup_steps: Math.min(50, Math.ceil(steps / 10)),
      },
      'demo',
    );
    const progress = trainProgress();
    const result = runTraining(config, { onEvent: progress.onEvent });
    const { model } = result;
    console.log('\n5/5 evaluate and sample');
    const validationLoss = result.validationLoss ?? Number.NaN;
    console.log(
      `  validation loss ${validationLoss.toFixed(3)}, perplexity ${Math.exp(validationLoss).toFixed(1)}`,
    );
    const stop = tokenizer.eosId === null ? [] : [tokenizer.eosId];
    for (const [i, prompt] of ['The president said', 'In the morning', 'She looked at the'].entries()) {
      const ids = Int32Array.from(tokenizer.encode(prompt));
      const generated = [
        ...generateTokens(model, ids, {
          maxNewTokens: 40,
          temperature: 0.8,
          topK: 40,
          seed: seed + i,
          stopTokens: stop,
        }),
      ];
      console.log(`  > ${prompt}${tokenizer.decode(generated.filter((t) => !stop.includes(t)))}`);
    }
    return 0;
  },
};
