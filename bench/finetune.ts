// Fine-tuning tokens/s and peak memory on one preset (default `small`): the engine with LoRA, the engine with
// full fine-tuning, and PyTorch on the CPU with a hand-written LoRA (fp32, same rank, alpha, targets, threads,
// batch and context), measured in the same run, with the ratios. Targets are masked (-100) over random spans so
// the masked loss path runs. PyTorch starts from the engine's initial weights, adapter and batch, so the first
// step's loss must agree; the bench fails when it does not.
// LoRA settings default to the studio's fine-tune defaults (rank 8, alpha 16, dropout 0.05, every projection).
// Usage: npm run bench -- finetune [--preset small] [--threads N] [--steps 5] [--warmup 2] [--rank R]
//   [--alpha A] [--dropout P] [--targets q_proj,k_proj,...] [--rslora]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  llamaConfig,
  modelPresets,
  parameterCount,
  type LoraTarget,
  type ModelPresetName,
} from '@ownlm/engine';
import { finetuneDefaults } from '../packages/studio/src/finetune/finetune-config.ts';
import type { FinetuneSettings, FinetuneStepResult } from './lib/finetune-step.ts';
import { ensureTorch, runTorchPeer } from './lib/torch-peer.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'small' },
    threads: { type: 'string', default: `${availableParallelism()}` },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rank: { type: 'string', default: String(finetuneDefaults.rank) },
    alpha: { type: 'string', default: String(finetuneDefaults.alpha) },
    dropout: { type: 'string', default: String(finetuneDefaults.lora_dropout) },
    targets: { type: 'string', default: finetuneDefaults.targets.join(',') },
    rslora: { type: 'boolean', default: finetuneDefaults.rslora },
  },
});
const preset = modelPresets[values.preset as ModelPresetName];
if (!preset)
  throw new Error(`unknown preset '${values.preset}'; choose from ${Object.keys(modelPresets).join(', ')}`);
const settings: FinetuneSettings = {
  rank: Number(values.rank),
  alpha: Number(values.alpha),
  dropout: Number(values.dropout),
  targets: values.targets.split(',') as LoraTarget[],
  rslora: values.rslora,
  // The studio's LoRA learning rate; full fine-tuning takes the same, as it changes no step's cost.
  lr: 2e-4,
  weight_decay: finetuneDefaults.weight_decay,
};
const threads = Number(values.threads);
const torchVersion = ensureTorch();
const config = llamaConfig(preset.config);

function engine(mode: 'lora' | 'full', weightsFile?: string): FinetuneStepResult {
  const args = [mode, values.preset, JSON.stringify(settings), values.steps, values.warmup, String(threads)];
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./lib/finetune-step.ts', import.meta.url).pathname,
      ...args,
      ...(weightsFile ? [weightsFile] : []),
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`ownlm ${mode} fine-tuning step failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as FinetuneStepResult;
}

const folder = mkdtempSync(join(tmpdir(), 'ownlm-bench-finetune-'));
const weightsFile = join(folder, 'initial.safetensors');
let lora: FinetuneStepResult, full: FinetuneStepResult, torch: FinetuneStepResult;
try {
  lora = engine('lora', weightsFile);
  full = engine('full');
  torch = runTorchPeer<FinetuneStepResult>(
    'finetune_lora.py',
    [
      JSON.stringify(config),
      JSON.stringify(settings),
      weightsFile,
      values.steps,
      values.warmup,
      String(threads),
    ],
    threads,
  );
} finally {
  rmSync(folder, { recursive: true, force: true });
}

const mb = (bytes?: number) => (bytes === undefined ? '—' : `${(bytes / 2 ** 20).toFixed(0)} MB`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const dropoutText = settings.dropout > 0 ? `, dropout ${settings.dropout}` : '';
console.log(
  `finetune: ${values.preset} preset (${(parameterCount(config) / 1e6).toFixed(1)}M params, batch ${preset.batch} × context ${preset.context}, ` +
    `half the targets masked), LoRA r=${settings.rank} alpha=${settings.alpha}${dropoutText}${settings.rslora ? ' rsLoRA' : ''} on ${settings.targets.join(',')}`,
);
console.log(
  `ownlm vs PyTorch ${torchVersion} (OpenBLAS), fp32, ${threads} threads, median of ${values.steps} steps after ${values.warmup} warmup`,
);
console.log('side          |  tok/s  step s | peak RSS  peak tensors | trainable params');
for (const [name, r] of [
  ['ownlm LoRA', lora],
  ['ownlm full', full],
  ['PyTorch LoRA', torch],
] as const) {
  console.log(
    [
      name.padEnd(13),
      '|',
      r.tokensPerSecond.toFixed(0).padStart(6),
      r.stepSeconds.toFixed(2).padStart(7),
      '|',
      mb(r.peakRssBytes).padStart(8),
      mb(r.peakTensorBytes).padStart(13),
      '|',
      r.trainableParameters.toLocaleString('en-US').padStart(16),
    ].join(' '),
  );
}
console.log(
  "peak tensors: the engine's pooled activations and their gradients (memoryStats().peakLiveBytes); weights, " +
    'weight gradients and AdamW state are outside it',
);
console.log(
  `ownlm LoRA / PyTorch LoRA: ${ratio(lora.tokensPerSecond, torch.tokensPerSecond)} tok/s, ` +
    `${ratio(lora.peakRssBytes, torch.peakRssBytes)} peak RSS`,
);
console.log(
  `ownlm LoRA / ownlm full:   ${ratio(lora.tokensPerSecond, full.tokensPerSecond)} tok/s, ` +
    `${ratio(lora.peakRssBytes, full.peakRssBytes)} peak RSS, ${ratio(lora.peakTensorBytes!, full.peakTensorBytes!)} peak tensors`,
);

// Same weights, adapter and batch on both sides, and B = 0 so the first loss is the base model's; float32
// with different summation orders agrees to ~1e-5 on a loss near ln(vocab), so 1e-4 leaves a margin.
const difference = Math.abs(lora.losses[0] - torch.losses[0]);
console.log(
  `first-step loss on identical weights and batch: ownlm LoRA ${lora.losses[0].toFixed(6)}, ` +
    `PyTorch LoRA ${torch.losses[0].toFixed(6)} (|Δ| ${difference.toExponential(1)}), ownlm full ${full.losses[0].toFixed(6)}`,
);
if (!(difference <= 1e-4)) {
  console.error(`finetune: the first-step losses differ by ${difference.toExponential(1)} > 1e-4`);
  process.exitCode = 1;
}
