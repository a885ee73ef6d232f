// Pretraining on packed token shards with the engine: the training loop (loop.ts) over micro-batches of token
// windows drawn from (seed, step), with periodic validation on a fixed set of windows and text samples. A
// resumed run repeats the uninterrupted one bit for bit.
//
// Progress goes out as events (the CLI draws a bar; a job runner forwards them) and into metrics.jsonl.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { AdamW, LlamaModel, backend, generateTokens, noGrad } from '@ownlm/engine';
import { stringify as toYaml } from 'yaml';
import { ConfigError } from '../config-table.ts';
import { TokenShardLoader } from '../data/token-shards.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { resumableCheckpoint } from './checkpoint.ts';
import { modelConfig, type TrainConfig } from './config.ts';
import { loopComputeKeys, trainLoop, type TrainEvent } from './loop.ts';
import { largestFittingBatch, preflight } from './preflight.ts';

export interface RunOptions {
  /** Continue from the newest good checkpoint in config.out (a fresh start when there is none). */
  resume?: boolean;
  onEvent?: (event: TrainEvent) => void;
}

export interface RunResult {
  finalLoss: number;
  validationLoss: number | null;
  checkpoint: string;
  model: LlamaModel;
  tokenizer: Tokenizer;
}

/** Keys that change what is computed: a resumed run must use the values it started with. */
const computeKeys: (keyof TrainConfig)[] = [
  ...loopComputeKeys,
  'data',
  'tokenizer',
  'model',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'rope_theta',
  'tie_word_embeddings',
  'context',
  'batch_size',
  'steps',
  'lr',
  'weight_decay',
  'beta1',
  'beta2',
  'dropout',
];

function validationLoss(model: LlamaModel, loader: TokenShardLoader, config: TrainConfig): number {
  let total = 0;
  for (let i = 0; i < config.eval_batches; i++) {
    // A fixed set of validation windows (its own seed), the same at every evaluation and across resumes.
    const { inputs, targets } = loader.batch({
      seed: config.seed + 7919,
      step: i,
      batchSize: config.batch_size,
      seqLen: config.context,
    });
    total += noGrad(() =>
      model.loss(inputs, targets, { batch: config.batch_size, seq: config.context }).item(),
    );
  }
  return total / config.eval_batches;
}

function sample(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompt: string,
  config: TrainConfig,
  step: number,
): string {
  const ids = tokenizer.encode(prompt);
  const room = config.context - ids.length;
  if (ids.length === 0 || room <= 0) return '';
  const stop = tokenizer.eosId === null ? [] : [tokenizer.eosId];
  const tokens = [
    ...generateTokens(model, ids, {
      maxNewTokens: Math.min(config.sample_tokens, room),
      temperature: 0.8,
      topK: 40,
      seed: config.seed + step,
      stopTokens: stop,
    }),
  ];
  return tokenizer.decode(tokens.filter((t) => !stop.includes(t)));
}

export function runTraining(config: TrainConfig, options: RunOptions = {}): RunResult {
  const emit = options.onEvent ?? (() => {});
  const runDir = resolve(config.out);
  mkdirSync(runDir, { recursive: true });
  const resumed = resumableCheckpoint(runDir, {
    resume: options.resume === true,
    config,
    computeKeys,
    onRejected: (dir, reason) => emit({ type: 'checkpoint-rejected', dir, reason }),
  });

  backend().setThreads(config.threads > 0 ? config.threads : availableParallelism());
  const tokenizer = Tokenizer.fromFile(config.tokenizer);
  const loaders = {
    train: new TokenShardLoader(config.data, 'train', { tokenizerHash: tokenizer.hash }),
    validation: new TokenShardLoader(config.data, 'validation', { tokenizerHash: tokenizer.hash }),
  };
  const shape = modelConfig(config, tokenizer.vocabSize);
  const check = preflight(shape, config.batch_size, config.context, config.grad_accumulation);
  if (!check.fits) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    const batch = largestFittingBatch(shape, config.context, check.availableBytes);
    throw new ConfigError(
      'exceeds-memory',
      `this run needs about ${gib(check.totalBytes)} but ${gib(check.availableBytes)} is available; ` +
        (batch > 0
          ? `use batch_size ${batch} (with grad_accumulation ${Math.ceil(config.batch_size / batch)} to keep the tokens per step)`
          : 'use a smaller context or model'),
    );
  }

  const model = new LlamaModel(shape, { seed: config.seed, dropout: config.dropout });
  const optimizer = new AdamW(model.parameterGroups(config.weight_decay), {
    lr: config.lr,
    beta1: config.beta1,
    beta2: config.beta2,
  });
  writeFileSync(join(runDir, 'config.yaml'), toYaml(config));
  const windowTokens = config.batch_size * config.context;
  const outcome = trainLoop({
    model,
    optimizer,
    config,
    lr: config.lr,
    steps: config.steps,
    nextBatch: (step, micro) => ({
      ...loaders.train.batch({
        seed: config.seed,
        step: step * config.grad_accumulation + micro,
        batchSize: config.batch_size,
        seqLen: config.context,
      }),
      batch: config.batch_size,
      seq: config.context,
      tokens: windowTokens,
    }),
    validationLoss: () => validationLoss(model, loaders.validation, config),
    afterStep: (step, last) => {
      if (config.sample_every > 0 && (step % config.sample_every === 0 || last)) {
        for (const prompt of config.sample_prompts)
          emit({ type: 'sample-text', step, prompt, text: sample(model, tokenizer, prompt, config, step) });
      }
    },
    run: {
      dir: runDir,
      resumed,
      tokenizer,
      tokenizerDir: config.tokenizer,
      preflight: check,
      parameters: check.parameters,
      extraMetrics: (step) => ({ tokens: step * windowTokens * config.grad_accumulation }),
    },
    emit,
  });
  return {
    finalLoss: outcome.loss,
    validationLoss: outcome.validationLoss,
    checkpoint: outcome.checkpoint,
    model,
    tokenizer,
  };
}
