// One engine side of the finetune benchmark, run in its own process so its peak RSS is its own: LoRA (base
// frozen, AdamW on the adapter) or full fine-tuning of a preset, steps of the studio's training loop (forward +
// backward + clipping + AdamW) on random tokens whose targets are masked (-100) over random spans, as the
// prompt turns of a conversation are.
// With WEIGHTS_FILE (LoRA only), first writes the initial weights, adapter and batch there for the PyTorch peer.
// Prints one JSON line.
// Usage: node --import tsx bench/lib/finetune-step.ts lora|full PRESET SETTINGS_JSON STEPS WARMUP THREADS [WEIGHTS_FILE]
import {
  AdamW,
  IGNORE_INDEX,
  LlamaModel,
  Random,
  backend,
  modelPresets,
  type LoraTarget,
  type ModelPresetName,
} from '@ownlm/engine';
import {
  writeSafetensors,
  type SafetensorsTensorInput,
} from '../../packages/studio/src/formats/safetensors.ts';
import { timeSteps, type TimedSteps } from './timed-steps.ts';

/** What both sides of the benchmark train with (bench/finetune.ts passes the same object to PyTorch). */
export interface FinetuneSettings {
  rank: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
  rslora: boolean;
  lr: number;
  weight_decay: number;
}

/** What each side prints; PyTorch has no engine tensor peak. */
export interface FinetuneStepResult extends Omit<TimedSteps, 'peakTensorBytes'> {
  trainableParameters: number;
  peakTensorBytes?: number;
}

/** Targets with alternating unmasked and masked spans of 8–127 tokens, about half of them masked. */
function maskSpans(targets: Int32Array, seq: number, random: Random): void {
  for (let row = 0; row < targets.length; row += seq) {
    let masked = random.uniform() < 0.5;
    let left = 8 + random.int(120);
    for (let i = row; i < row + seq; i++, left--) {
      if (left === 0) [masked, left] = [!masked, 8 + random.int(120)];
      if (masked) targets[i] = IGNORE_INDEX;
    }
  }
}

function main(): void {
  const [mode, presetName, settingsArg, stepsArg, warmupArg, threadsArg, weightsFile] = process.argv.slice(2);
  if (mode !== 'lora' && mode !== 'full') throw new Error(`mode must be lora or full, got '${mode}'`);
  const preset = modelPresets[presetName as ModelPresetName];
  const settings = JSON.parse(settingsArg) as FinetuneSettings;
  const [steps, warmup, threads] = [Number(stepsArg), Number(warmupArg), Number(threadsArg)];
  backend().setThreads(threads);

  const model = new LlamaModel(preset.config, { seed: 0 });
  const { batch, context: seq } = preset;
  const random = new Random(0);
  const inputs = Int32Array.from({ length: batch * seq }, () => random.int(preset.config.vocab_size));
  const targets = Int32Array.from({ length: batch * seq }, () => random.int(preset.config.vocab_size));
  maskSpans(targets, seq, random);

  let optimizer: AdamW;
  if (mode === 'lora') {
    const adapter = model.attachLora({ ...settings, seed: 0 });
    optimizer = new AdamW(adapter.parameterGroups(settings.weight_decay), { lr: settings.lr });
    if (weightsFile) {
      const tensors: SafetensorsTensorInput[] = [...model.parameters, ...adapter.parameters].map(
        ([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: t.data }),
      );
      tensors.push({ name: 'inputs', dtype: 'I32', shape: [batch, seq], data: inputs });
      tensors.push({ name: 'targets', dtype: 'I32', shape: [batch, seq], data: targets });
      writeSafetensors(weightsFile, tensors);
    }
  } else {
    optimizer = new AdamW(model.parameterGroups(settings.weight_decay), { lr: settings.lr });
  }
  const result: FinetuneStepResult = {
    ...timeSteps({ model, optimizer, lr: settings.lr, inputs, targets, batch, seq, steps, warmup }),
    trainableParameters: optimizer.params().reduce((n, t) => n + t.size, 0),
  };
  console.log(JSON.stringify(result));
}

main();
