// The trainer's promises: a run killed with SIGKILL at random steps (often inside a checkpoint write) and
// resumed produces the same per-step losses and the same final weights as an uninterrupted run; torn
// checkpoints are rejected with a message naming the file; bad configs name the key; the preflight memory
// estimate matches what a step really uses.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createInterface } from 'node:readline';
import { LlamaModel, Random, memoryStats, resetPeakMemory } from '@ownlm/engine';
import { stringify as toYaml } from 'yaml';
import { ConfigError } from '../config-table.ts';
import { TokenShardLoader } from '../data/token-shards.ts';
import { CHECKPOINT_FILES, listCheckpoints, loadLatestCheckpoint } from './checkpoint.ts';
import { mergeConfig, modelConfig, readConfigFile, resolveConfig, type TrainConfig } from './config.ts';
import { preflight } from './preflight.ts';
import { writePretrainInputs } from './pretrain-fixture.ts';
import { runTraining } from './trainer.ts';

const cli = new URL('../../../cli/bin/ownlm.mjs', import.meta.url).pathname;
let work: string;
let base: Omit<TrainConfig, 'out'>;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ownlm-trainer-'));
  const inputs = await writePretrainInputs(work, { train: 300, validation: 30 });
  base = resolveConfig(
    {
      ...inputs,
      out: 'unused',
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      context: 32,
      batch_size: 4,
      steps: 30,
      warmup_steps: 5,
      lr: 1e-2,
      min_lr: 1e-3,
      dropout: 0.1,
      eval_every: 10,
      eval_batches: 2,
      checkpoint_every: 1,
      keep_checkpoints: 2,
      threads: 1,
    },
    'test',
  );
});

after(() => rmSync(work, { recursive: true, force: true }));

function writeRunConfig(name: string, overrides: Partial<TrainConfig> = {}): string {
  const path = join(work, `${name}.yaml`);
  writeFileSync(path, toYaml({ ...base, out: join(work, name), ...overrides }));
  return path;
}

/** Runs `ownlm train`; with killAtStep, SIGKILLs it as soon as it reports that step. Resolves with the last step seen. */
function trainProcess(
  configPath: string,
  resume: boolean,
  killAtStep?: number,
): Promise<{ code: number | null; lastStep: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [cli, 'train', '--config', configPath, '--events', '-', ...(resume ? ['--resume'] : [])],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let lastStep = 0;
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { type: string; step?: number };
      if (event.type === 'train-step') lastStep = event.step!;
      if (killAtStep !== undefined && lastStep >= killAtStep) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lastStep, stderr }));
  });
}

function losses(run: string): number[] {
  return readFileSync(join(work, run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { loss: number }).loss);
}

function finalWeightsHash(run: string): string {
  const [newest] = listCheckpoints(join(work, run));
  return createHash('sha256')
    .update(readFileSync(join(newest, CHECKPOINT_FILES.model)))
    .digest('hex');
}

describe('trainer', () => {
  test('killed with SIGKILL at random steps and resumed, a run equals the uninterrupted one bit for bit', async () => {
    const straight = await trainProcess(writeRunConfig('straight'), false);
    assert.equal(straight.code, 0, straight.stderr);

    const config = writeRunConfig('interrupted');
    const random = new Random(Date.now() % 1e9);
    let kills = 0;
    let done = false;
    for (let attempt = 0; attempt < 12 && !done; attempt++) {
      const target = Math.min(base.steps, 1 + random.int(base.steps));
      const run = await trainProcess(config, attempt > 0, kills < 4 ? target : undefined);
      if (run.code === 0) done = true;
      else kills++;
    }
    assert.ok(done, 'the interrupted run finished');
    assert.ok(kills >= 1, 'the run was killed at least once');
    assert.deepEqual(losses('interrupted'), losses('straight'), 'per-step losses');
    assert.equal(losses('straight').length, base.steps);
    assert.equal(finalWeightsHash('interrupted'), finalWeightsHash('straight'), 'final weights (SHA-256)');
  });

  test('a truncated or bit-flipped checkpoint is rejected by name and the previous one is used', () => {
    const runDir = join(work, 'torn');
    runTraining(
      resolveConfig(
        { ...base, out: runDir, steps: 4, warmup_steps: 1, eval_every: 0, keep_checkpoints: 3 },
        'test',
      ),
    );
    const [newest, previous, oldest] = listCheckpoints(runDir);
    const modelFile = join(newest, CHECKPOINT_FILES.model);
    writeFileSync(modelFile, readFileSync(modelFile).subarray(0, 100));
    const optimizerFile = join(previous, CHECKPOINT_FILES.optimizer);
    const bytes = readFileSync(optimizerFile);
    bytes[bytes.length - 3] ^= 0x10;
    writeFileSync(optimizerFile, bytes);

    const rejected: string[] = [];
    const loaded = loadLatestCheckpoint(runDir, (_dir, reason) => rejected.push(reason));
    assert.equal(loaded?.dir, oldest);
    assert.equal(rejected.length, 2);
    assert.match(rejected[0], new RegExp(`${modelFile}: .*truncated`));
    assert.match(rejected[1], new RegExp(`${optimizerFile}: SHA-256`));
  });

  test('a config names the file and key it rejects', () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'data: x\nbatchsize: 4\n');
    assert.throws(
      () => readConfigFile(bad),
      (e: Error) =>
        e instanceof ConfigError && e.message.includes(bad) && e.message.includes("unknown key 'batchsize'"),
    );
    writeFileSync(bad, 'lr: fast\n');
    assert.throws(() => readConfigFile(bad), /lr must be a finite number, got string "fast"/);
    assert.throws(() => mergeConfig({}, { dropout: 1.5 }, 'flags'), /flags: dropout must be in \[0, 1\)/);
    assert.throws(
      () => resolveConfig({ data: 'a', tokenizer: 'b' }, 'run.yaml'),
      /run.yaml: 'out' is required/,
    );
  });

  test('resuming with a setting that changes the computation is refused', () => {
    const runDir = join(work, 'changed');
    runTraining(resolveConfig({ ...base, out: runDir, steps: 2, warmup_steps: 1, eval_every: 0 }, 'test'));
    assert.throws(
      () =>
        runTraining(
          resolveConfig({ ...base, out: runDir, steps: 2, warmup_steps: 1, lr: 5e-3, eval_every: 0 }, 'test'),
          { resume: true },
        ),
      /cannot resume with lr = 0.005/,
    );
  });

  test('the preflight activation estimate is within 25% of the pooled memory a step really uses', () => {
    const config = resolveConfig({ ...base, out: join(work, 'unused'), batch_size: 8 }, 'test');
    const shape = modelConfig(config, 300);
    const estimate = preflight(shape, config.batch_size, config.context, 1);
    const model = new LlamaModel(shape, { seed: 1 });
    const loader = new TokenShardLoader(config.data, 'train');
    const { inputs, targets } = loader.batch({ seed: 1, step: 0, batchSize: 8, seqLen: config.context });
    const before = memoryStats().liveBytes;
    resetPeakMemory();
    model.loss(inputs, targets, { batch: 8, seq: config.context }).backward();
    const used = memoryStats().peakLiveBytes - before;
    const ratio = used / estimate.activationBytes;
    assert.ok(
      ratio > 0.75 && ratio < 1.25,
      `measured ${used} bytes, estimated ${estimate.activationBytes} (ratio ${ratio.toFixed(2)})`,
    );
  });
});
