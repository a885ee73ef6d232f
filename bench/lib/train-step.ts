// One side of the train-throughput benchmark, run in its own process so its peak RSS is its own: steps of the
// studio's training loop (forward + backward + clipping + AdamW) on random tokens. Prints one JSON line.
// Usage: node --import tsx bench/lib/train-step.ts PRESET STEPS WARMUP THREADS
import { AdamW, LlamaModel, Random, backend, modelPresets, type ModelPresetName } from '@ownlm/engine';
import { timeSteps } from './timed-steps.ts';

const [presetName, stepsArg, warmupArg, threadsArg] = process.argv.slice(2);
const preset = modelPresets[presetName as ModelPresetName];
backend().setThreads(Number(threadsArg));

const model = new LlamaModel(preset.config, { seed: 0 });
const lr = 3e-4;
const { batch, context: seq } = preset;
const random = new Random(0);
const inputs = Int32Array.from({ length: batch * seq }, () => random.int(preset.config.vocab_size));
const targets = Int32Array.from({ length: batch * seq }, () => random.int(preset.config.vocab_size));
const { losses, ...timed } = timeSteps({
  model,
  optimizer: new AdamW(model.parameterGroups(0.1), { lr }),
  lr,
  inputs,
  targets,
  batch,
  seq,
  steps: Number(stepsArg),
  warmup: Number(warmupArg),
});
console.log(JSON.stringify({ ...timed, loss: losses.at(-1), backend: backend().name }));
