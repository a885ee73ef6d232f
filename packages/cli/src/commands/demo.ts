// `ownlm demo`: the whole from-scratch path on the bundled corpus, in a few minutes on a laptop CPU —
// prepare the demo corpus, train a BPE tokenizer, pack token shards, train a small Llama with the engine,
// report validation perplexity and print samples. What `npm start` runs.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LlamaModel, backend, generateTokens, parameterCount } from '@ownlm/engine';
import {
  TokenShardLoader,
  demoCorpusSources,
  packCorpus,
  prepareCorpus,
  train,
  trainTokenizer,
  type BatchSource,
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';

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
function demoModel(vocabSize: number) {
  return {
    vocab_size: vocabSize,
    hidden_size: 192,
    intermediate_size: 512,
    num_hidden_layers: 4,
    num_attention_heads: 6,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
  };
}

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

    const config = demoModel(tokenizer.vocabSize);
    const model = new LlamaModel(config, { seed });
    const [batch, seq, evalBatches] = [16, 128, 8];
    console.log(
      `\n4/5 train a ${(parameterCount(model.config) / 1e6).toFixed(1)}M-parameter Llama for ${steps} steps (batch ${batch} × ${seq} tokens)`,
    );
    const loaders = {
      train: new TokenShardLoader(dirs.shards, 'train'),
      validation: new TokenShardLoader(dirs.shards, 'validation'),
    };
    const source = (loader: TokenShardLoader, salt: number): BatchSource => ({
      batch: (step) => loader.batch({ seed: seed + salt, step, batchSize: batch, seqLen: seq }),
    });
    const trainBar = new ProgressBar({ label: '  train', total: steps, unit: 'step' });
    let tokensPerSecond = 0;
    const result = train(
      model,
      { train: source(loaders.train, 0), validation: source(loaders.validation, 1000) },
      {
        batch,
        seq,
        steps,
        accumulation: 1,
        schedule: {
          kind: 'cosine',
          lr: 3e-3,
          warmupSteps: Math.min(50, Math.ceil(steps / 10)),
          totalSteps: steps,
          minLr: 3e-4,
        },
        weightDecay: 0.1,
        clip: 1,
        evalEvery: 0,
        evalBatches,
      },
      (event) => {
        if (event.type === 'train-step') {
          tokensPerSecond = event.tokensPerSecond;
          trainBar.update(
            event.step,
            `loss ${event.loss.toFixed(3)} lr ${event.lr.toExponential(1)} ${tokensPerSecond.toFixed(0)} tok/s`,
          );
        }
      },
    );
    trainBar.finish(`loss ${result.finalLoss.toFixed(3)} ${tokensPerSecond.toFixed(0)} tok/s`);

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
