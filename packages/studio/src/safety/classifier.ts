// The safety classifier: a small network trained on ownlm's own engine. A text becomes a bag of hashed
// features (features.ts); the bag's mean-pooled embedding (scaled by 1/√n) goes through one gated hidden layer
// (SwiGLU) to one logit per label. It trains in seconds on a CPU from the shipped labelled prompts and is
// saved as a safetensors file (the tensors below) with a JSON config beside it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  add,
  AdamW,
  crossEntropy,
  embedding,
  learningRate,
  linear,
  matmul,
  noGrad,
  Random,
  swiglu,
  Tensor,
} from '@ownlm/engine';
import { FormatError } from '../formats/errors.ts';
import { readSafetensors, writeSafetensors } from '../formats/safetensors.ts';
import { classifierLabels, isClassifierLabel, type ClassifierLabel } from './categories.ts';
import { safetyDataDir, type LabelledExample } from './datasets.ts';
import { featureIds } from './features.ts';

export interface SafetyClassifierConfig {
  labels: ClassifierLabel[];
  /** Feature hash buckets (rows of the feature embedding). */
  buckets: number;
  /** Width of the pooled embedding and of the hidden layer. */
  hidden: number;
  seed: number;
  epochs: number;
  batchSize: number;
  /** Peak AdamW learning rate, reached after a short warmup and decayed to zero on a cosine. */
  lr: number;
  weightDecay: number;
  /** Share of a text's features dropped at random in each training step, so no one phrase carries a label. */
  featureDropout: number;
}

export const safetyClassifierDefaults: SafetyClassifierConfig = {
  labels: [...classifierLabels],
  buckets: 1 << 13,
  hidden: 32,
  seed: 0,
  epochs: 5,
  batchSize: 32,
  lr: 1e-2,
  weightDecay: 1e-4,
  featureDropout: 0.5,
};

export const classifierFiles = { weights: 'classifier.safetensors', config: 'classifier.json' } as const;

/** Probability per label for one text, and the most probable label. */
export interface ClassifierPrediction {
  label: ClassifierLabel;
  probabilities: Record<ClassifierLabel, number>;
}

interface Parameters {
  features: Tensor;
  featuresBias: Tensor;
  gate: Tensor;
  up: Tensor;
  output: Tensor;
  outputBias: Tensor;
}

/** Tensor names in the safetensors file. */
const tensorNames: Record<keyof Parameters, string> = {
  features: 'features.weight',
  featuresBias: 'features.bias',
  gate: 'hidden.gate.weight',
  up: 'hidden.up.weight',
  output: 'output.weight',
  outputBias: 'output.bias',
};

function initialParameters(config: SafetyClassifierConfig): Parameters {
  const random = new Random(config.seed);
  const { buckets, hidden } = config;
  const normal = (shape: number[], std: number, name: string) =>
    new Tensor(random.fillNormal(new Float32Array(shape[0] * (shape[1] ?? 1)), std), shape, {
      requiresGrad: true,
      name,
    });
  return {
    features: normal([buckets, hidden], 1 / Math.sqrt(hidden), tensorNames.features),
    featuresBias: Tensor.zeros([hidden], { requiresGrad: true, name: tensorNames.featuresBias }),
    gate: normal([hidden, hidden], 1 / Math.sqrt(hidden), tensorNames.gate),
    up: normal([hidden, hidden], 1 / Math.sqrt(hidden), tensorNames.up),
    output: normal([config.labels.length, hidden], 1 / Math.sqrt(hidden), tensorNames.output),
    outputBias: Tensor.zeros([config.labels.length], { requiresGrad: true, name: tensorNames.outputBias }),
  };
}

/**
 * Feature ids of a batch padded to a common width, and the pooling weights (1/√n for each of a text's n
 * features, 0 for padding, so padding contributes nothing forward and receives nothing backward).
 */
function batchInputs(bags: readonly Int32Array[], width: number): { ids: Int32Array; weights: Tensor } {
  const ids = new Int32Array(bags.length * width);
  const weights = new Float32Array(bags.length * width);
  bags.forEach((bag, b) => {
    const n = Math.min(bag.length, width);
    ids.set(bag.subarray(0, n), b * width);
    weights.fill(n > 0 ? 1 / Math.sqrt(n) : 0, b * width, b * width + n);
  });
  return { ids, weights: new Tensor(weights, [bags.length, 1, width]) };
}

function forward(p: Parameters, bags: readonly Int32Array[], width: number): Tensor {
  const { ids, weights } = batchInputs(bags, width);
  const hidden = p.featuresBias.size;
  const rows = embedding(p.features, ids).reshape([bags.length, width, hidden]); // [batch, width, hidden]
  const pooled = add(matmul(weights, rows).reshape([bags.length, hidden]), p.featuresBias); // [batch, hidden]
  const activation = swiglu(linear(pooled, p.gate), linear(pooled, p.up)); // [batch, hidden]
  return add(linear(activation, p.output), p.outputBias); // [batch, labels]
}

function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const exps = Float64Array.from(logits, (v) => Math.exp(v - max));
  const total = exps.reduce((s, v) => s + v, 0);
  return exps.map((v) => v / total);
}

/** Long texts are read in windows of this many words, overlapping by a quarter. */
const WINDOW_WORDS = 64;

function windows(text: string): string[] {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length <= WINDOW_WORDS) return [text];
  const out: string[] = [];
  const stride = (WINDOW_WORDS * 3) / 4;
  for (let start = 0; start < words.length; start += stride) {
    out.push(words.slice(start, start + WINDOW_WORDS).join(' '));
    if (start + WINDOW_WORDS >= words.length) break;
  }
  return out;
}

export class SafetyClassifier {
  constructor(
    readonly config: SafetyClassifierConfig,
    private readonly parameters: Parameters,
  ) {}

  /**
   * Label probabilities of each text. A text longer than a window is as harmful as its least benign window,
   * so an instruction buried in a long document still counts.
   */
  predict(texts: readonly string[]): ClassifierPrediction[] {
    const { labels, buckets } = this.config;
    const benign = labels.indexOf('benign');
    return texts.map((text) => {
      const bags = windows(text).map((part) => featureIds(part, buckets));
      const width = Math.max(1, ...bags.map((b) => b.length));
      const logits = noGrad(() => forward(this.parameters, bags, width)).data;
      let worst = softmax(logits.subarray(0, labels.length));
      for (let w = 1; w < bags.length; w++) {
        const window = softmax(logits.subarray(w * labels.length, (w + 1) * labels.length));
        if (window[benign] < worst[benign]) worst = window;
      }
      let top = 0;
      for (let l = 1; l < labels.length; l++) if (worst[l] > worst[top]) top = l;
      const probabilities = Object.fromEntries(labels.map((l, i) => [l, worst[i]]));
      return { label: labels[top], probabilities: probabilities as Record<ClassifierLabel, number> };
    });
  }

  /** The tensors by safetensors name, for saving and for comparing two classifiers. */
  tensors(): Map<string, Tensor> {
    return new Map(Object.values(this.parameters).map((t) => [t.name!, t]));
  }
}

export interface TrainClassifierOptions {
  examples: readonly LabelledExample[];
  config?: Partial<SafetyClassifierConfig>;
  /** Called after each optimizer step with the step, the total and the batch loss. */
  onStep?: (step: number, steps: number, loss: number) => void;
}

/** Trains a classifier from scratch; the result is a function of (examples, config). */
export function trainSafetyClassifier(options: TrainClassifierOptions): SafetyClassifier {
  const config: SafetyClassifierConfig = { ...safetyClassifierDefaults, ...options.config };
  const parameters = initialParameters(config);
  const labelIndex = new Map(config.labels.map((l, i) => [l, i]));
  const bags = options.examples.map((e) => featureIds(e.text, config.buckets));
  const targets = options.examples.map((e) => {
    const index = labelIndex.get(e.label);
    if (index === undefined)
      throw new Error(`example label '${e.label}' is not one of ${config.labels.join(', ')}`);
    return index;
  });
  const optimizer = new AdamW(
    [
      {
        params: [parameters.features, parameters.gate, parameters.up, parameters.output],
        weightDecay: config.weightDecay,
      },
      { params: [parameters.featuresBias, parameters.outputBias], weightDecay: 0 },
    ],
    { lr: config.lr },
  );
  const stepsPerEpoch = Math.ceil(bags.length / config.batchSize);
  const steps = config.epochs * stepsPerEpoch;
  const schedule = {
    kind: 'cosine',
    lr: config.lr,
    warmupSteps: Math.ceil(steps / 20),
    totalSteps: steps,
  } as const;
  const random = new Random(config.seed + 1);
  const order = bags.map((_, i) => i);
  let step = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let start = 0; start < order.length; start += config.batchSize) {
      const batch = order.slice(start, start + config.batchSize);
      const batchBags = batch.map((i) =>
        config.featureDropout > 0 ? bags[i].filter(() => random.uniform() >= config.featureDropout) : bags[i],
      );
      // Widths rounded up to a multiple of 64, so the engine's buffer pool sees few distinct sizes.
      const width = Math.ceil(Math.max(1, ...batchBags.map((b) => b.length)) / 64) * 64;
      optimizer.lr = learningRate(schedule, step);
      optimizer.zeroGrad();
      const loss = crossEntropy(
        forward(parameters, batchBags, width),
        Int32Array.from(batch, (i) => targets[i]),
      );
      loss.backward();
      optimizer.step();
      step++;
      options.onStep?.(step, steps, loss.item());
    }
  }
  for (const p of Object.values(parameters)) p.requiresGrad = false;
  return new SafetyClassifier(config, parameters);
}

/** Writes `classifier.safetensors` and `classifier.json` into `dir`. */
export function saveSafetyClassifier(classifier: SafetyClassifier, dir: string): void {
  writeSafetensors(
    join(dir, classifierFiles.weights),
    [...classifier.tensors()].map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: t.data })),
  );
  writeFileSync(join(dir, classifierFiles.config), `${JSON.stringify(classifier.config, null, 2)}\n`);
}

/** Reads a classifier saved by saveSafetyClassifier (the shipped one by default), checking every shape. */
export function loadSafetyClassifier(dir = safetyDataDir): SafetyClassifier {
  const configFile = join(dir, classifierFiles.config);
  const weightsFile = join(dir, classifierFiles.weights);
  const config = { ...safetyClassifierDefaults, ...(JSON.parse(readFileSync(configFile, 'utf8')) as object) };
  if (!Array.isArray(config.labels) || !config.labels.every(isClassifierLabel))
    throw new FormatError(
      'invalid',
      configFile,
      'labels',
      `must list labels among ${classifierLabels.join(', ')}`,
    );
  const expected = initialShapes(config);
  const { tensors } = readSafetensors(weightsFile, Object.values(tensorNames));
  const parameters = Object.fromEntries(
    (Object.keys(tensorNames) as (keyof Parameters)[]).map((key) => {
      const stored = tensors.get(tensorNames[key])!;
      if (stored.shape.join() !== expected[key].join())
        throw new FormatError(
          'invalid',
          weightsFile,
          `tensor "${tensorNames[key]}".shape`,
          `[${stored.shape}] does not match the config's [${expected[key]}]`,
        );
      return [
        key,
        new Tensor(Float32Array.from(stored.toFloat32()), stored.shape, { name: tensorNames[key] }),
      ];
    }),
  ) as unknown as Parameters;
  return new SafetyClassifier(config, parameters);
}

let shipped: SafetyClassifier | null = null;

/** The classifier shipped in the data folder, loaded once per process. */
export function shippedClassifier(): SafetyClassifier {
  shipped ??= loadSafetyClassifier();
  return shipped;
}

function initialShapes(config: SafetyClassifierConfig): Record<keyof Parameters, number[]> {
  const { buckets, hidden, labels } = config;
  return {
    features: [buckets, hidden],
    featuresBias: [hidden],
    gate: [hidden, hidden],
    up: [hidden, hidden],
    output: [labels.length, hidden],
    outputBias: [labels.length],
  };
}
