// Golden numbers from an independent implementation: bench/torch/golden_llama.py builds the same Llama in
// PyTorch (Hugging Face semantics), and the fixture holds its weights, logits, loss, every gradient, and the
// weights after three clipped AdamW steps. The engine must reproduce them from the same weights and batch.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { AdamW } from '../optim/adamw.ts';
import { clipGradNorm } from '../optim/clip.ts';
import { noGrad } from '../tensor.ts';
import { assertClose } from '../testing/check-op.ts';
import { LlamaModel } from './llama.ts';

interface Golden {
  config: ConstructorParameters<typeof LlamaModel>[0];
  optimizer: {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weight_decay: number;
    clip: number;
    steps: number;
  };
  batch: number;
  seq: number;
  inputs: number[];
  targets: number[];
  parameterOrder: string[];
  weights: Record<string, number[]>;
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
  stepLosses: number[];
  weightsAfterSteps: Record<string, number[]>;
}

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/llama-golden.json', import.meta.url), 'utf8'),
) as Golden;

function loadModel(): LlamaModel {
  const model = new LlamaModel(golden.config);
  assert.deepEqual([...model.parameters.keys()].sort(), [...golden.parameterOrder].sort(), 'parameter names');
  for (const [name, p] of model.parameters) p.data.set(golden.weights[name]);
  return model;
}

describe('Llama against PyTorch golden numbers', () => {
  const inputs = Int32Array.from(golden.inputs);
  const targets = Int32Array.from(golden.targets);
  const shape = { batch: golden.batch, seq: golden.seq };

  test('logits and loss', () => {
    const model = loadModel();
    const logits = noGrad(() => model.forward(inputs, shape));
    // Both sides are float32 with different summation orders; logits of magnitude ~10 agree to ~1e-5.
    assertClose(logits.data, golden.logits, { atol: 1e-4, rtol: 1e-4 }, 'logits');
    assertClose(
      [noGrad(() => model.loss(inputs, targets, shape).item())],
      [golden.loss],
      { atol: 1e-5, rtol: 1e-5 },
      'loss',
    );
  });

  test('every gradient', () => {
    const model = loadModel();
    model.loss(inputs, targets, shape).backward();
    for (const [name, p] of model.parameters)
      assertClose(p.grad!, golden.grads[name], { atol: 1e-5, rtol: 1e-3 }, `grad ${name}`);
  });

  test('three clipped AdamW steps', () => {
    const model = loadModel();
    const o = golden.optimizer;
    const optimizer = new AdamW(model.parameterGroups(o.weight_decay), {
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
    });
    const losses: number[] = [];
    for (let step = 0; step < o.steps; step++) {
      const loss = model.loss(inputs, targets, shape);
      losses.push(loss.item());
      loss.backward();
      clipGradNorm(model.parameters.values(), o.clip);
      optimizer.step();
      optimizer.zeroGrad();
    }
    assertClose(losses, golden.stepLosses, { atol: 1e-5, rtol: 1e-5 }, 'losses per step');
    // Adam divides by sqrt(v): where a gradient is tiny, float32 noise in it moves the update a little more.
    for (const [name, p] of model.parameters)
      assertClose(p.data, golden.weightsAfterSteps[name], { atol: 2e-5, rtol: 1e-4 }, `weights ${name}`);
  });
});
