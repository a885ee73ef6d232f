// One engine side of the finetune benchmark, run in its own process so its peak RSS is its own: LoRA (base
// frozen, AdamW on the adapter) or full fine-tuning of a preset, forward + backward + clipping + AdamW on
// random tokens whose targets are masked (-100) over random spans, as the prompt turns of a conversation are.
// With WEIGHTS_FILE (LoRA only), first writes the initial weights, adapter and batch there for the PyTorch peer.
// Prints one JSON line.
// Usage: node --import tsx bench/lib/finetune-step.ts lora|full PRESET SETTINGS_JSON STEPS WARMUP THREADS [WEIGHTS_FILE]
import {
  AdamW,
  IGNORE_INDEX,
  LlamaModel,
  Random,
  backend,
  clipGradNorm,
  memoryStats,
  modelPresets,
  resetPeakMemory,
  type LoraTarget,
  type ModelPresetName,
  type Tensor,
} from '@ownlm/engine';
import {
  writeSafetensors,
  type SafetensorsTensorInput,
} from '../../packages/studio/src/formats/safetensors.ts';

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

export interface FinetuneStepResult {
  tokensPerSecond: number;
  stepSeconds: number;
  /** The loss of every step, warmup included; the first is before any update. */
  losses: number[];
  trainableParameters: number;
  peakRssBytes: number;
  /** The engine's peak of live tensor buffers (memoryStats().peakLiveBytes) over the timed steps. */
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
  // Dropout (the adapter's, when its rate is above 0) runs only when the forward pass gets a generator.
  const dropoutRandom = new Random(1);

  let trainable: Tensor[];
  let optimizer: AdamW;
  if (mode === 'lora') {
    const adapter = model.attachLora({ ...settings, seed: 0 });
    trainable = [...adapter.parameters.values()];
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
    trainable = [...model.parameters.values()];
    optimizer = new AdamW(model.parameterGroups(settings.weight_decay), { lr: settings.lr });
  }

  const times: number[] = [];
  const losses: number[] = [];
  for (let step = 0; step < warmup + steps; step++) {
    if (step === warmup) resetPeakMemory();
    const start = performance.now();
    const loss = model.loss(inputs, targets, { batch, seq, random: dropoutRandom });
    losses.push(loss.item());
    loss.backward();
    clipGradNorm(trainable, 1);
    optimizer.step();
    optimizer.zeroGrad();
    if (step >= warmup) times.push((performance.now() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const result: FinetuneStepResult = {
    tokensPerSecond: (batch * seq) / median,
    stepSeconds: median,
    losses,
    trainableParameters: trainable.reduce((n, t) => n + t.size, 0),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    peakTensorBytes: memoryStats().peakLiveBytes,
  };
  console.log(JSON.stringify(result));
}

main();
