// LoRA: PEFT names and shapes, the fresh adapter as a no-op, the attached forward against a model whose
// weights were merged by hand (W + s·B@A), gradients of A and B against finite differences, frozen base
// weights, rsLoRA scaling, mergeLora, dropout, training that moves only the adapter, and golden numbers from
// a hand-written PyTorch LoRA (bench/torch/golden_lora.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { backend, createReferenceBackend, useBackend } from '../backend/index.ts';
import { memoryStats } from '../memory.ts';
import { AdamW } from '../optim/adamw.ts';
import { Random } from '../random.ts';
import { noGrad } from '../tensor.ts';
import { assertClose } from '../testing/check-op.ts';
import type { LlamaConfigInput } from './config.ts';
import { LlamaModel } from './llama.ts';
import { LORA_TARGETS, type LoraAdapter, type LoraOptions } from './lora.ts';

// GQA (6 query heads of 4 over 2 KV heads), a prime vocabulary and an intermediate size no kernel blocks evenly.
const awkward: LlamaConfigInput = {
  vocab_size: 31,
  hidden_size: 24,
  intermediate_size: 23,
  num_hidden_layers: 2,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-5,
  attention_bias: true,
};

const ids = (vocab: number, n: number, seed: number) => {
  const random = new Random(seed);
  return Int32Array.from({ length: n }, () => random.int(vocab));
};

/** A model with weights well away from the 0.02 init, so every path moves the output visibly. */
function sharpModel(config: LlamaConfigInput, seed: number): LlamaModel {
  const model = new LlamaModel(config, { seed });
  const random = new Random(seed + 100);
  for (const p of model.parameters.values())
    for (let i = 0; i < p.size; i++) p.data[i] += random.normal() * 0.3;
  return model;
}

/** Fills every B (zero at init) with random values so the adapter changes the output. */
function randomizeB(adapter: LoraAdapter, seed: number, std = 0.3): void {
  const random = new Random(seed);
  for (const [name, p] of adapter.parameters) if (name.includes('lora_B')) random.fillNormal(p.data, std);
}

/** W + scaling·B@A for every adapted weight, by plain loops, into a copy of the base model. */
function mergedByHand(config: LlamaConfigInput, base: LlamaModel, adapter: LoraAdapter): LlamaModel {
  const merged = new LlamaModel(config);
  for (const [name, p] of base.parameters) merged.parameters.get(name)!.data.set(p.data);
  for (const [name, a] of adapter.parameters) {
    if (!name.includes('lora_A')) continue;
    const b = adapter.parameters.get(name.replace('lora_A', 'lora_B'))!;
    const weight = merged.parameters.get(name.replace('base_model.model.', '').replace('.lora_A', ''))!;
    const [out, r] = b.shape;
    const inFeatures = a.shape[1];
    for (let i = 0; i < out; i++)
      for (let j = 0; j < inFeatures; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b.data[i * r + k] * a.data[k * inFeatures + j];
        weight.data[i * inFeatures + j] += adapter.scaling * s;
      }
  }
  return merged;
}

function logits(model: LlamaModel, tokens: Int32Array, batch: number): Float32Array {
  return noGrad(() => model.forward(tokens, { batch, seq: tokens.length / batch }).data);
}

describe('LoRA adapter', () => {
  test('PEFT keys and shapes for every target and layer; A Kaiming-uniform and seeded; B zeros', () => {
    const model = new LlamaModel(awkward);
    const adapter = model.attachLora({ rank: 3, alpha: 6, targets: [...LORA_TARGETS].reverse() });
    const shapes = Object.fromEntries([...adapter.parameters].map(([n, p]) => [n, p.shape.join('x')]));
    const q = 6 * 4;
    const kv = 2 * 4;
    const expected: Record<string, [string, string]> = {
      'self_attn.q_proj': [`3x24`, `${q}x3`],
      'self_attn.k_proj': [`3x24`, `${kv}x3`],
      'self_attn.v_proj': [`3x24`, `${kv}x3`],
      'self_attn.o_proj': [`3x${q}`, `24x3`],
      'mlp.gate_proj': [`3x24`, `23x3`],
      'mlp.up_proj': [`3x24`, `23x3`],
      'mlp.down_proj': [`3x23`, `24x3`],
    };
    const keys: string[] = [];
    for (const layer of [0, 1]) {
      for (const [module, [a, b]] of Object.entries(expected)) {
        const prefix = `base_model.model.model.layers.${layer}.${module}`;
        keys.push(`${prefix}.lora_A.weight`, `${prefix}.lora_B.weight`);
        assert.equal(shapes[`${prefix}.lora_A.weight`], a, `${prefix} A`);
        assert.equal(shapes[`${prefix}.lora_B.weight`], b, `${prefix} B`);
      }
    }
    assert.deepEqual([...adapter.parameters.keys()], keys, 'PEFT state-dict order');
    assert.deepEqual(adapter.options.targets, LORA_TARGETS, 'targets in canonical order');
    assert.equal(adapter.scaling, 2);

    for (const [name, p] of adapter.parameters) {
      assert.equal(p.name, name);
      if (name.includes('lora_B'))
        assert.ok(
          p.data.every((x) => x === 0),
          `${name} is zeros`,
        );
      else {
        // kaiming_uniform_(a=√5): U(−1/√in, 1/√in), whose standard deviation is bound/√3.
        const bound = 1 / Math.sqrt(p.shape[1]);
        assert.ok(
          p.data.every((x) => Math.abs(x) <= bound),
          `${name} within ±${bound}`,
        );
      }
    }
    const all = [...adapter.parameters].filter(([n]) => n.includes('lora_A') && n.includes('mlp.up'));
    const values = all.flatMap(([, p]) => [...p.data].map((x) => x * Math.sqrt(p.shape[1])));
    const std = Math.sqrt(values.reduce((s, x) => s + x * x, 0) / values.length);
    assert.ok(Math.abs(std - 1 / Math.sqrt(3)) < 0.08, `A's spread ${std} is uniform's 1/√3`);

    const again = new LlamaModel(awkward).attachLora({ rank: 3, alpha: 6, targets: LORA_TARGETS });
    const other = new LlamaModel(awkward).attachLora({ rank: 3, alpha: 6, targets: LORA_TARGETS, seed: 1 });
    const first = adapter.parameters.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!;
    const key = first.name!;
    assert.deepEqual(again.parameters.get(key)!.data, first.data, 'same seed, same A');
    assert.notDeepEqual(other.parameters.get(key)!.data, first.data, 'another seed, another A');
  });

  test('a fresh adapter is a no-op', () => {
    const model = sharpModel(awkward, 1);
    const tokens = ids(31, 2 * 7, 2);
    const before = logits(model, tokens, 2);
    model.attachLora({ rank: 4, alpha: 8, targets: LORA_TARGETS });
    assert.deepEqual(logits(model, tokens, 2), before);
  });

  const cases: [string, LoraOptions][] = [
    ['rank 1, every target', { rank: 1, alpha: 3, targets: LORA_TARGETS }],
    ['rank 3, attention only', { rank: 3, alpha: 5, targets: ['q_proj', 'v_proj', 'o_proj'] }],
    ['rank 3, MLP only, rsLoRA', { rank: 3, alpha: 5, targets: ['gate_proj', 'down_proj'], rslora: true }],
  ];
  for (const [title, options] of cases) {
    test(`forward with the adapter equals the model merged by hand (${title})`, () => {
      const model = sharpModel(awkward, 3);
      const adapter = model.attachLora(options);
      randomizeB(adapter, 4);
      const tokens = ids(31, 3 * 5, 5);
      const attached = logits(model, tokens, 3);
      const merged = logits(mergedByHand(awkward, model, adapter), tokens, 3);
      // Same products summed in another order (x·A·B against x·(W + sBA)): float32 reassociation only.
      assertClose(attached, merged, { atol: 2e-5, rtol: 1e-4 }, 'logits');
      // A visible change, so the comparison above could fail.
      model.detachLora();
      const base = logits(model, tokens, 3);
      assert.ok(
        base.some((x, i) => Math.abs(x - attached[i]) > 1e-2),
        'the adapter changes the logits',
      );
    });
  }

  test('rsLoRA scales by alpha/√r, plain LoRA by alpha/r', () => {
    const config = { ...awkward, num_hidden_layers: 1 };
    const plain = new LlamaModel(config).attachLora({ rank: 4, alpha: 16, targets: ['q_proj'] });
    const rs = new LlamaModel(config).attachLora({ rank: 4, alpha: 16, targets: ['q_proj'], rslora: true });
    assert.equal(plain.scaling, 4);
    assert.equal(rs.scaling, 8);
  });

  test('gradients of A and B match finite differences; base parameters get no gradient', () => {
    const previous = backend();
    useBackend(createReferenceBackend());
    try {
      const model = sharpModel(awkward, 7);
      const adapter = model.attachLora({ rank: 3, alpha: 4, targets: LORA_TARGETS, dropout: 0.25 });
      randomizeB(adapter, 8);
      const [batch, seq] = [2, 5];
      const inputs = ids(31, batch * seq, 9);
      const targets = ids(31, batch * seq, 10);
      targets[4] = -100;
      // Dropout masks repeat exactly when each evaluation starts from the same generator state.
      const options = () => ({ batch, seq, random: new Random(11) });
      const loss = model.loss(inputs, targets, options());
      loss.backward();
      for (const [name, p] of model.parameters) assert.equal(p.grad, null, `${name} has no gradient`);
      const lossAt = () => noGrad(() => model.loss(inputs, targets, options()).item());
      const random = new Random(12);
      const eps = 1e-2;
      for (const [name, p] of adapter.parameters) {
        assert.ok(p.grad, `${name} received a gradient`);
        for (let s = 0; s < 2; s++) {
          const j = random.int(p.size);
          const original = p.data[j];
          p.data[j] = original + eps;
          const plus = lossAt();
          p.data[j] = original - eps;
          const minus = lossAt();
          p.data[j] = original;
          const numeric = (plus - minus) / (2 * eps);
          // As in the whole-model check: float32 loss ~3, rounding/(2·eps) ≈ 2e-5, truncation ≈ 1e-4·f'''.
          assert.ok(
            Math.abs(numeric - p.grad![j]) <= 1e-3 + 0.03 * Math.abs(numeric),
            `${name}[${j}]: backward ${p.grad![j]}, finite difference ${numeric}`,
          );
        }
      }
    } finally {
      useBackend(previous);
    }
  });

  test('LoRA dropout acts only when forward gets a generator', () => {
    const model = sharpModel(awkward, 13);
    const adapter = model.attachLora({ rank: 2, alpha: 2, targets: ['q_proj', 'up_proj'], dropout: 0.5 });
    randomizeB(adapter, 14);
    const tokens = ids(31, 6, 15);
    const shape = { batch: 1, seq: 6 };
    const plain = logits(model, tokens, 1);
    assert.deepEqual(logits(model, tokens, 1), plain, 'deterministic without a generator');
    const dropped = noGrad(() => model.forward(tokens, { ...shape, random: new Random(1) }).data);
    assert.ok(
      dropped.some((x, i) => Math.abs(x - plain[i]) > 1e-4),
      'a generator turns dropout on',
    );
  });

  test('mergeLora equals the attached forward, then detaches and unfreezes', () => {
    const model = sharpModel(awkward, 16);
    const adapter = model.attachLora({ rank: 3, alpha: 7, targets: LORA_TARGETS, rslora: true });
    randomizeB(adapter, 17);
    const tokens = ids(31, 2 * 6, 18);
    const attached = logits(model, tokens, 2);
    const byHand = mergedByHand(awkward, model, adapter);
    model.mergeLora();
    assert.equal(model.lora, null);
    assert.ok([...model.parameters.values()].every((p) => p.requiresGrad));
    // The engine's merge uses the GEMM kernel; the hand merge sums r products per weight in order.
    for (const [name, p] of model.parameters)
      assertClose(p.data, byHand.parameters.get(name)!.data, { atol: 1e-6, rtol: 1e-5 }, name);
    assertClose(logits(model, tokens, 2), attached, { atol: 2e-5, rtol: 1e-4 }, 'merged logits');
    assert.throws(() => model.mergeLora(), /no adapter is attached/);
  });

  test('training moves only the adapter and lowers the loss; detach restores base training', () => {
    const model = new LlamaModel(awkward, { seed: 19 });
    const base = new Map([...model.parameters].map(([n, p]) => [n, Float32Array.from(p.data)]));
    const adapter = model.attachLora({ rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] });
    const optimizer = new AdamW(adapter.parameterGroups(0.01), { lr: 2e-2 });
    const [batch, seq] = [2, 8];
    const inputs = ids(31, batch * seq, 20);
    const targets = ids(31, batch * seq, 21);
    const first = noGrad(() => model.loss(inputs, targets, { batch, seq }).item());
    let last = first;
    for (let step = 0; step < 30; step++) {
      const loss = model.loss(inputs, targets, { batch, seq });
      last = loss.item();
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
    }
    assert.ok(last < first - 0.1, `loss ${first} → ${last}`);
    for (const [name, p] of model.parameters) assert.deepEqual(p.data, base.get(name), `${name} is frozen`);
    assert.throws(() => model.attachLora({ rank: 1, alpha: 1, targets: ['q_proj'] }), /already attached/);

    model.detachLora();
    model.loss(inputs, targets, { batch, seq }).backward();
    assert.ok(
      [...model.parameters.values()].every((p) => p.grad !== null),
      'base weights train again',
    );
    assert.ok([...adapter.parameters.values()].every((p) => p.grad === null || p.grad.every((g) => g === 0)));
  });

  test('LoRA steps keep no base gradient and, after the first, allocate nothing new', () => {
    const model = new LlamaModel(awkward, { seed: 22 });
    const adapter = model.attachLora({ rank: 2, alpha: 4, targets: LORA_TARGETS, dropout: 0.1 });
    const optimizer = new AdamW(adapter.parameterGroups(0), { lr: 1e-3 });
    const [batch, seq] = [2, 8];
    const inputs = ids(31, batch * seq, 23);
    const targets = ids(31, batch * seq, 24);
    const random = new Random(25);
    const step = () => {
      model.loss(inputs, targets, { batch, seq, random }).backward();
      optimizer.step();
      optimizer.zeroGrad();
    };
    step();
    const before = memoryStats();
    step();
    step();
    const after = memoryStats();
    assert.equal(after.liveBytes, before.liveBytes, 'no pooled buffer is left live after a step');
    assert.equal(after.pooledBytes, before.pooledBytes, 'the pool did not grow');
    assert.ok(
      [...model.parameters.values()].every((p) => p.grad === null),
      'no base gradient buffers',
    );
  });

  test('invalid options are rejected with the field named', () => {
    const model = new LlamaModel(awkward);
    const targets = LORA_TARGETS;
    assert.throws(() => model.attachLora({ rank: 0, alpha: 1, targets }), /rank must be a positive integer/);
    assert.throws(() => model.attachLora({ rank: 2.5, alpha: 1, targets }), /rank/);
    assert.throws(() => model.attachLora({ rank: 2, alpha: 0, targets }), /alpha must be positive/);
    assert.throws(() => model.attachLora({ rank: 2, alpha: 1, dropout: 1, targets }), /dropout/);
    assert.throws(() => model.attachLora({ rank: 2, alpha: 1, targets: [] }), /at least one/);
    assert.throws(
      () => model.attachLora({ rank: 2, alpha: 1, targets: ['lm_head' as 'q_proj'] }),
      /unknown target 'lm_head'/,
    );
    assert.equal(model.lora, null, 'a rejected attach leaves the model as it was');
    assert.ok([...model.parameters.values()].every((p) => p.requiresGrad));
  });
});

interface Golden {
  config: LlamaConfigInput;
  lora: LoraOptions;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; steps: number };
  batch: number;
  seq: number;
  inputs: number[];
  targets: number[];
  base: Record<string, number[]>;
  adapter: Record<string, number[]>;
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
  stepLosses: number[];
  adapterAfterSteps: Record<string, number[]>;
}

describe('LoRA against PyTorch golden numbers', () => {
  const golden = JSON.parse(
    readFileSync(new URL('./fixtures/lora-golden.json', import.meta.url), 'utf8'),
  ) as Golden;
  const inputs = Int32Array.from(golden.inputs);
  const targets = Int32Array.from(golden.targets);
  const shape = { batch: golden.batch, seq: golden.seq };

  function load(): { model: LlamaModel; adapter: LoraAdapter } {
    const model = new LlamaModel(golden.config);
    for (const [name, p] of model.parameters) p.data.set(golden.base[name]);
    const adapter = model.attachLora(golden.lora);
    assert.deepEqual([...adapter.parameters.keys()], Object.keys(golden.adapter), 'adapter keys and order');
    for (const [name, p] of adapter.parameters) p.data.set(golden.adapter[name]);
    return { model, adapter };
  }

  test('logits, loss and the gradient of every A and B', () => {
    const { model, adapter } = load();
    // float32 on both sides with different summation orders, as in the Llama golden test.
    assertClose(
      noGrad(() => model.forward(inputs, shape)).data,
      golden.logits,
      { atol: 1e-4, rtol: 1e-4 },
      'logits',
    );
    const loss = model.loss(inputs, targets, shape);
    assertClose([loss.item()], [golden.loss], { atol: 1e-5, rtol: 1e-5 }, 'loss');
    loss.backward();
    for (const [name, p] of adapter.parameters)
      assertClose(p.grad!, golden.grads[name], { atol: 1e-5, rtol: 1e-3 }, `grad ${name}`);
  });

  test('two AdamW steps on the adapter', () => {
    const { model, adapter } = load();
    const o = golden.optimizer;
    const optimizer = new AdamW(adapter.parameterGroups(o.weight_decay), {
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
      optimizer.step();
      optimizer.zeroGrad();
    }
    assertClose(losses, golden.stepLosses, { atol: 1e-5, rtol: 1e-5 }, 'losses per step');
    // Adam divides by sqrt(v): where a gradient is tiny, float32 noise in it moves the update a little more.
    for (const [name, p] of adapter.parameters)
      assertClose(p.data, golden.adapterAfterSteps[name], { atol: 2e-5, rtol: 1e-4 }, name);
  });
});
