// DPO on a LoRA adapter against golden numbers from an independent PyTorch implementation on the same weights
// (bench/torch/golden_dpo.py): the reference (base) and policy log-probabilities of the completions, the chosen
// and rejected log-ratios, the sigmoid DPO loss, the gradient of every A and B, and two AdamW steps; and the
// gradients of A and B against finite differences of the whole composition.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createReferenceBackend, useBackend, backend } from '../backend/index.ts';
import { dpoLoss } from '../ops/dpo-loss.ts';
import { AdamW } from '../optim/adamw.ts';
import { Random } from '../random.ts';
import { Tensor, noGrad } from '../tensor.ts';
import { assertClose } from '../testing/check-op.ts';
import type { LlamaConfigInput } from './config.ts';
import { LlamaModel } from './llama.ts';
import type { LoraAdapter, LoraOptions } from './lora.ts';

interface Golden {
  config: LlamaConfigInput;
  lora: LoraOptions;
  beta: number;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; steps: number };
  batch: number;
  seq: number;
  inputs: number[];
  targets: number[];
  base: Record<string, number[]>;
  adapter: Record<string, number[]>;
  referenceLogProbs: number[];
  policyLogProbs: number[];
  chosenLogRatios: number[];
  rejectedLogRatios: number[];
  loss: number;
  grads: Record<string, number[]>;
  stepLosses: number[];
  adapterAfterSteps: Record<string, number[]>;
}

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/dpo-golden.json', import.meta.url), 'utf8'),
) as Golden;
const inputs = Int32Array.from(golden.inputs);
const targets = Int32Array.from(golden.targets);
const shape = { batch: golden.batch, seq: golden.seq };
const pairs = golden.batch / 2;

/** The base with the golden weights, its log-probabilities (the reference), then the golden adapter attached. */
function load(): { model: LlamaModel; adapter: LoraAdapter; reference: Tensor } {
  const model = new LlamaModel(golden.config);
  for (const [name, p] of model.parameters) p.data.set(golden.base[name]);
  const reference = noGrad(() => model.sequenceLogProbs(inputs, targets, shape));
  const adapter = model.attachLora(golden.lora);
  assert.deepEqual([...adapter.parameters.keys()], Object.keys(golden.adapter), 'adapter keys and order');
  for (const [name, p] of adapter.parameters) p.data.set(golden.adapter[name]);
  return { model, adapter, reference };
}

const lossOf = (model: LlamaModel, reference: Tensor) =>
  dpoLoss(model.sequenceLogProbs(inputs, targets, shape), reference, golden.beta);

describe('DPO against PyTorch golden numbers', () => {
  test('reference and policy log-probabilities, log-ratios, loss and the gradient of every A and B', () => {
    const { model, adapter, reference } = load();
    // Sums of up to 7 float32 log-softmax values of magnitude ~4, summed in other orders on the two sides:
    // measured differences are under 2e-6.
    const logProbs = { atol: 2e-5, rtol: 1e-5 };
    assertClose(reference.data, golden.referenceLogProbs, logProbs, 'reference log-probabilities');
    const policy = model.sequenceLogProbs(inputs, targets, shape);
    assertClose(policy.data, golden.policyLogProbs, logProbs, 'policy log-probabilities');
    const ratios = [...policy.data].map((p, i) => p - reference.data[i]);
    assertClose(ratios.slice(0, pairs), golden.chosenLogRatios, logProbs, 'chosen log-ratios');
    assertClose(ratios.slice(pairs), golden.rejectedLogRatios, logProbs, 'rejected log-ratios');
    const loss = dpoLoss(policy, reference, golden.beta);
    assertClose([loss.item()], [golden.loss], { atol: 1e-5, rtol: 1e-5 }, 'loss');
    loss.backward();
    // As the LoRA golden test: float32 gradients through the whole model, summed in other orders.
    for (const [name, p] of adapter.parameters)
      assertClose(p.grad!, golden.grads[name], { atol: 1e-5, rtol: 1e-3 }, `grad ${name}`);
  });

  test('two AdamW steps on the adapter', () => {
    const { model, adapter, reference } = load();
    const o = golden.optimizer;
    const optimizer = new AdamW(adapter.parameterGroups(o.weight_decay), {
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
    });
    const losses: number[] = [];
    for (let step = 0; step < o.steps; step++) {
      const loss = lossOf(model, reference);
      losses.push(loss.item());
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
    }
    assertClose(losses, golden.stepLosses, { atol: 1e-5, rtol: 1e-5 }, 'losses per step');
    // Adam divides by sqrt(v): where a gradient is tiny, float32 noise in it moves the update a little more.
    for (const [name, p] of adapter.parameters)
      assertClose(p.data, golden.adapterAfterSteps[name], { atol: 2e-5, rtol: 1e-4 }, name);
  });

  test('gradients of A and B match finite differences of the DPO loss', () => {
    const previous = backend();
    useBackend(createReferenceBackend());
    try {
      const { model, adapter, reference } = load();
      lossOf(model, reference).backward();
      const lossAt = () => noGrad(() => lossOf(model, reference).item());
      const random = new Random(3);
      const eps = 1e-2;
      for (const [name, p] of adapter.parameters) {
        for (let s = 0; s < 2; s++) {
          const j = random.int(p.size);
          const original = p.data[j];
          p.data[j] = original + eps;
          const plus = lossAt();
          p.data[j] = original - eps;
          const minus = lossAt();
          p.data[j] = original;
          const numeric = (plus - minus) / (2 * eps);
          // Loss ~0.8 in float32: rounding/(2·eps) ≈ 5e-6; truncation O(eps²·f''') ≈ 1e-4 at these weights.
          assert.ok(
            Math.abs(numeric - p.grad![j]) <= 5e-4 + 0.03 * Math.abs(numeric),
            `${name}[${j}]: backward ${p.grad![j]}, finite difference ${numeric}`,
          );
        }
      }
    } finally {
      useBackend(previous);
    }
  });
});
