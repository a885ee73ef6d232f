// Training tokens/s (forward + backward + AdamW) and peak memory of the tiny, small and base presets, each
// beside the same model in PyTorch on the CPU (fp32, same threads) measured in the same run, with the ratio.
// Usage: npm run bench -- train-throughput [--presets tiny,small,base] [--threads 1,2] [--steps 5] [--warmup 2]
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { modelPresets, trainingFlopsPerToken, llamaConfig, type ModelPresetName } from '@ownlm/engine';
import { ensureTorch, runTorchPeer } from './lib/torch-peer.ts';

interface StepResult {
  tokensPerSecond: number;
  stepSeconds: number;
  loss: number;
  peakRssBytes: number;
  peakTensorBytes?: number;
  backend?: string;
}

const { values } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,small,base' },
    threads: { type: 'string', default: `${availableParallelism()}` },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
  },
});
const presets = values.presets.split(',') as ModelPresetName[];
const threadCounts = values.threads.split(',').map(Number);
const torchVersion = ensureTorch();

function ours(preset: string, threads: number): StepResult {
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./lib/train-step.ts', import.meta.url).pathname,
      preset,
      values.steps,
      values.warmup,
      String(threads),
    ],
    {
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`ownlm train step failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as StepResult;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
console.log(
  `train-throughput: ownlm vs PyTorch ${torchVersion} (OpenBLAS), fp32, median of ${values.steps} steps after ${values.warmup} warmup`,
);
console.log(
  'preset  threads | ownlm tok/s  GFLOP/s  peak RSS | torch tok/s  peak RSS | speed ratio  memory ratio',
);
for (const name of presets) {
  const preset = modelPresets[name];
  if (!preset)
    throw new Error(`unknown preset '${name}'; choose from ${Object.keys(modelPresets).join(', ')}`);
  const config = llamaConfig(preset.config);
  const flops = trainingFlopsPerToken(config, preset.context);
  for (const threads of threadCounts) {
    const a = ours(name, threads);
    const b = runTorchPeer<StepResult>(
      'train_llama.py',
      [
        JSON.stringify(config),
        String(preset.batch),
        String(preset.context),
        values.steps,
        values.warmup,
        String(threads),
      ],
      threads,
    );
    console.log(
      [
        name.padEnd(7),
        String(threads).padStart(7),
        '|',
        a.tokensPerSecond.toFixed(0).padStart(11),
        ((a.tokensPerSecond * flops) / 1e9).toFixed(1).padStart(8),
        mb(a.peakRssBytes).padStart(9),
        '|',
        b.tokensPerSecond.toFixed(0).padStart(11),
        mb(b.peakRssBytes).padStart(9),
        '|',
        `${(a.tokensPerSecond / b.tokensPerSecond).toFixed(2)}×`.padStart(11),
        `${(a.peakRssBytes / b.peakRssBytes).toFixed(2)}×`.padStart(13),
      ].join(' '),
    );
  }
}
