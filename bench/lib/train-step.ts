// One side of the train-throughput benchmark, run in its own process so its peak RSS is its own:
// forward + backward + clipping + AdamW on random tokens. Prints one JSON line.
// Usage: node --import tsx bench/lib/train-step.ts PRESET STEPS WARMUP THREADS
import {
  AdamW,
  LlamaModel,
  Random,
  backend,
  clipGradNorm,
  memoryStats,
  modelPresets,
  resetPeakMemory,
  type ModelPresetName,
} from '@ownlm/engine';

const [presetName, stepsArg, warmupArg, threadsArg] = process.argv.slice(2);
const preset = modelPresets[presetName as ModelPresetName];
const [steps, warmup, threads] = [Number(stepsArg), Number(warmupArg), Number(threadsArg)];
backend().setThreads(threads);

const model = new LlamaModel(preset.config, { seed: 0 });
const optimizer = new AdamW(model.parameterGroups(0.1), { lr: 3e-4 });
const { batch, context: seq } = preset;
const random = new Random(0);
const inputs = Int32Array.from({ length: batch * seq }, () => random.int(preset.config.vocab_size));
const targets = Int32Array.from({ length: batch * seq }, () => random.int(preset.config.vocab_size));

const times: number[] = [];
let loss = 0;
for (let step = 0; step < warmup + steps; step++) {
  if (step === warmup) resetPeakMemory();
  const start = performance.now();
  const l = model.loss(inputs, targets, { batch, seq });
  loss = l.item();
  l.backward();
  clipGradNorm(model.parameters.values(), 1);
  optimizer.step();
  optimizer.zeroGrad();
  if (step >= warmup) times.push((performance.now() - start) / 1000);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({
    tokensPerSecond: (batch * seq) / median,
    stepSeconds: median,
    loss,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    peakTensorBytes: memoryStats().peakLiveBytes,
    backend: backend().name,
  }),
);
