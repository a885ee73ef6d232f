// Model-level checks: checkpoint names and shapes, gradients of the whole network against finite
// differences and against the reference backend, overfitting a batch, and generation with and without the cache.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backend, createReferenceBackend, useBackend } from '../backend/index.ts';
import { generate, generateTokens } from '../generate/generate.ts';
import { AdamW } from '../optim/adamw.ts';
import { clipGradNorm } from '../optim/clip.ts';
import { Random } from '../random.ts';
import { memoryStats, resetPeakMemory } from '../memory.ts';
import { scale } from '../ops/elementwise.ts';
import { noGrad } from '../tensor.ts';
import { assertClose } from '../testing/check-op.ts';
import { parameterCount, type LlamaConfigInput } from './config.ts';
import { LlamaModel } from './llama.ts';

const tiny: LlamaConfigInput = {
  vocab_size: 29,
  hidden_size: 12,
  intermediate_size: 22,
  num_hidden_layers: 2,
  num_attention_heads: 3,
  num_key_value_heads: 1,
  max_position_embeddings: 64,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
};

function batchOf(
  vocab: number,
  batch: number,
  seq: number,
  seed: number,
): { inputs: Int32Array; targets: Int32Array } {
  const random = new Random(seed);
  const tokens = Int32Array.from({ length: batch * (seq + 1) }, () => random.int(vocab));
  const inputs = new Int32Array(batch * seq);
  const targets = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    inputs.set(tokens.subarray(b * (seq + 1), b * (seq + 1) + seq), b * seq);
    targets.set(tokens.subarray(b * (seq + 1) + 1, (b + 1) * (seq + 1)), b * seq);
  }
  return { inputs, targets };
}

function lossAndGrads(
  model: LlamaModel,
  inputs: Int32Array,
  targets: Int32Array,
  batch: number,
  seq: number,
) {
  for (const p of model.parameters.values()) p.grad = null;
  const loss = model.loss(inputs, targets, { batch, seq });
  const value = loss.item();
  loss.backward();
  const grads = new Map([...model.parameters].map(([name, p]) => [name, Float32Array.from(p.grad!)]));
  return { value, grads };
}

describe('Llama model', () => {
  test('parameter names and shapes are the Hugging Face checkpoint keys', () => {
    const model = new LlamaModel({ ...tiny, attention_bias: true });
    const shapes = Object.fromEntries([...model.parameters].map(([n, p]) => [n, p.shape.join('x')]));
    assert.equal(shapes['model.embed_tokens.weight'], '29x12');
    assert.equal(shapes['model.layers.1.self_attn.q_proj.weight'], '12x12');
    assert.equal(shapes['model.layers.1.self_attn.k_proj.weight'], '4x12');
    assert.equal(shapes['model.layers.1.self_attn.v_proj.bias'], '4');
    assert.equal(shapes['model.layers.0.self_attn.o_proj.weight'], '12x12');
    assert.equal(shapes['model.layers.0.mlp.gate_proj.weight'], '22x12');
    assert.equal(shapes['model.layers.0.mlp.down_proj.weight'], '12x22');
    assert.equal(shapes['model.layers.0.post_attention_layernorm.weight'], '12');
    assert.equal(shapes['model.norm.weight'], '12');
    assert.equal(shapes['lm_head.weight'], '29x12');
    const total = [...model.parameters.values()].reduce((s, p) => s + p.size, 0);
    assert.equal(parameterCount(model.config), total);

    const tied = new LlamaModel({ ...tiny, tie_word_embeddings: true });
    assert.equal(tied.parameters.has('lm_head.weight'), false);
    assert.equal(
      parameterCount(tied.config),
      [...tied.parameters.values()].reduce((s, p) => s + p.size, 0),
    );
  });

  test('initialization: N(0, 0.02), residual projections scaled by 1/sqrt(2·layers), norms at one', () => {
    const model = new LlamaModel(
      {
        ...tiny,
        hidden_size: 64,
        intermediate_size: 256,
        num_attention_heads: 4,
        num_key_value_heads: 4,
        num_hidden_layers: 8,
      },
      { seed: 3 },
    );
    const std = (name: string) => {
      const d = model.parameters.get(name)!.data;
      return Math.sqrt(d.reduce((s, x) => s + x * x, 0) / d.length);
    };
    assert.ok(Math.abs(std('model.layers.0.mlp.up_proj.weight') - 0.02) < 0.001);
    assert.ok(Math.abs(std('model.layers.0.mlp.down_proj.weight') - 0.02 / 4) < 0.0003);
    assert.ok(model.parameters.get('model.norm.weight')!.data.every((x) => x === 1));
  });

  test('whole-model gradients match finite differences (reference backend)', () => {
    const previous = backend();
    useBackend(createReferenceBackend());
    try {
      const model = new LlamaModel({ ...tiny, attention_bias: true }, { seed: 5 });
      // Larger weights than the 0.02 init, so every path contributes visibly to the loss.
      const random = new Random(9);
      for (const p of model.parameters.values())
        for (let i = 0; i < p.size; i++) p.data[i] += random.normal() * 0.3;
      const [batch, seq] = [2, 5];
      const { inputs, targets } = batchOf(tiny.vocab_size, batch, seq, 1);
      targets[3] = -100;
      const { grads } = lossAndGrads(model, inputs, targets, batch, seq);
      const eps = 1e-2;
      const lossAt = () => noGrad(() => model.loss(inputs, targets, { batch, seq }).item());
      for (const [name, p] of model.parameters) {
        for (let s = 0; s < 3; s++) {
          const j = random.int(p.size);
          const original = p.data[j];
          p.data[j] = original + eps;
          const plus = lossAt();
          p.data[j] = original - eps;
          const minus = lossAt();
          p.data[j] = original;
          const numeric = (plus - minus) / (2 * eps);
          const analytic = grads.get(name)![j];
          // float32 loss of magnitude ~3: rounding/(2·eps) ≈ 2e-5, truncation ≈ 1e-4·f''' — 1e-3 + 3% covers both.
          assert.ok(
            Math.abs(numeric - analytic) <= 1e-3 + 0.03 * Math.abs(numeric),
            `${name}[${j}]: backward ${analytic}, finite difference ${numeric}`,
          );
        }
      }
    } finally {
      useBackend(previous);
    }
  });

  test('the active backend matches the reference on logits, loss and every gradient', () => {
    const model = new LlamaModel(
      { ...tiny, hidden_size: 24, num_attention_heads: 6, num_key_value_heads: 2, intermediate_size: 37 },
      { seed: 11 },
    );
    const [batch, seq] = [3, 13];
    const { inputs, targets } = batchOf(tiny.vocab_size, batch, seq, 2);
    const active = lossAndGrads(model, inputs, targets, batch, seq);
    const previous = backend();
    useBackend(createReferenceBackend());
    let reference;
    try {
      reference = lossAndGrads(model, inputs, targets, batch, seq);
    } finally {
      useBackend(previous);
    }
    // Different summation orders in blocked kernels: float32 reassociation over ≤ 37-term sums, well under 1e-4.
    assertClose([active.value], [reference.value], { atol: 1e-5, rtol: 1e-5 }, 'loss');
    for (const [name, g] of reference.grads)
      assertClose(active.grads.get(name)!, g, { atol: 2e-5, rtol: 1e-3 }, name);
  });

  test(
    'the thread count changes results only by float32 reassociation',
    { skip: backend().name === 'reference' && 'the reference backend is single-threaded' },
    () => {
      const model = new LlamaModel(
        {
          ...tiny,
          vocab_size: 301,
          hidden_size: 96,
          intermediate_size: 200,
          num_attention_heads: 6,
          num_key_value_heads: 3,
        },
        { seed: 12 },
      );
      const [batch, seq] = [4, 33];
      const { inputs, targets } = batchOf(301, batch, seq, 7);
      const be = backend();
      const threads = be.threads();
      try {
        be.setThreads(1);
        const one = lossAndGrads(model, inputs, targets, batch, seq);
        be.setThreads(Math.max(2, threads));
        const many = lossAndGrads(model, inputs, targets, batch, seq);
        // Splitting work across threads may reorder float32 sums; anything beyond ~1e-6 relative would be a race.
        assertClose([many.value], [one.value], { atol: 1e-6, rtol: 1e-6 }, 'loss');
        for (const [name, g] of one.grads)
          assertClose(many.grads.get(name)!, g, { atol: 1e-7, rtol: 1e-4 }, name);
      } finally {
        be.setThreads(threads);
      }
    },
  );

  test('overfits a fixed batch: loss below 0.05 within 300 AdamW steps', () => {
    const model = new LlamaModel(
      {
        ...tiny,
        vocab_size: 64,
        hidden_size: 32,
        intermediate_size: 64,
        num_attention_heads: 4,
        num_key_value_heads: 2,
      },
      { seed: 1 },
    );
    const optimizer = new AdamW(model.parameterGroups(0.01), { lr: 1e-2 });
    const [batch, seq] = [4, 16];
    const { inputs, targets } = batchOf(64, batch, seq, 3);
    const first = noGrad(() => model.loss(inputs, targets, { batch, seq }).item());
    assert.ok(Math.abs(first - Math.log(64)) < 0.1, `initial loss ${first} should be near ln(64)`);
    let last = first;
    for (let step = 0; step < 300 && last > 0.05; step++) {
      const loss = model.loss(inputs, targets, { batch, seq });
      last = loss.item();
      loss.backward();
      clipGradNorm(model.parameters.values(), 1);
      optimizer.step();
      optimizer.zeroGrad();
    }
    assert.ok(last < 0.05, `loss ${last} after training`);
  });
});

describe('training memory and accumulation', () => {
  test('two accumulated half-batches give the full batch gradient', () => {
    const model = new LlamaModel(tiny, { seed: 4 });
    const [batch, seq] = [4, 6];
    const { inputs, targets } = batchOf(tiny.vocab_size, batch, seq, 8);
    const full = lossAndGrads(model, inputs, targets, batch, seq).grads;
    for (const p of model.parameters.values()) p.grad = null;
    const half = (batch / 2) * seq;
    for (const part of [0, 1]) {
      const range = [part * half, (part + 1) * half] as const;
      // Each half's mean loss weighs 1/2 of the full-batch mean (every target counted, none ignored).
      scale(
        model.loss(inputs.subarray(...range), targets.subarray(...range), { batch: batch / 2, seq }),
        0.5,
      ).backward();
    }
    for (const [name, p] of model.parameters)
      assertClose(p.grad!, full.get(name)!, { atol: 1e-6, rtol: 1e-4 }, name);
  });

  test('activations return to the pool after backward, and steps after the first allocate nothing new', () => {
    const model = new LlamaModel(tiny, { seed: 6 });
    const optimizer = new AdamW(model.parameterGroups(0), { lr: 1e-3 });
    const [batch, seq] = [2, 8];
    const { inputs, targets } = batchOf(tiny.vocab_size, batch, seq, 5);
    const step = () => {
      model.loss(inputs, targets, { batch, seq }).backward();
      optimizer.step();
      optimizer.zeroGrad();
    };
    step();
    const before = memoryStats();
    resetPeakMemory();
    step();
    step();
    const after = memoryStats();
    assert.equal(after.liveBytes, before.liveBytes, 'no pooled buffer is left live after a step');
    assert.equal(after.pooledBytes, before.pooledBytes, 'the pool did not grow: every buffer was reused');
    assert.ok(after.peakLiveBytes > after.liveBytes, 'the step used pooled activations');
  });
});

describe('generation', () => {
  const model = new LlamaModel({ ...tiny, vocab_size: 50 }, { seed: 21 });
  // Sharpen the random model so sampling has structure to follow.
  for (const p of model.parameters.values())
    if (p.shape.length === 2) p.data.forEach((x, i) => (p.data[i] = x * 20));
  const prompt = Int32Array.from([4, 9, 1, 33, 2]);

  test('the KV cache gives the same logits and tokens as recomputing the prefix', () => {
    const cache = model.createCache();
    const full = Array.from(prompt);
    let step = model.nextTokenLogits(prompt, cache);
    for (let i = 0; i < 6; i++) {
      const recomputed = model.nextTokenLogits(Int32Array.from(full));
      // Same arithmetic on the new row; only summation order inside attention may differ.
      assertClose(step, recomputed, { atol: 1e-4, rtol: 1e-4 }, `logits at step ${i}`);
      const token = i * 7 + 3;
      full.push(token);
      step = model.nextTokenLogits(Int32Array.of(token), cache);
    }
    for (const options of [
      { temperature: 0 },
      { temperature: 0.8, topK: 10, topP: 0.9, repetitionPenalty: 1.3, seed: 5 },
    ]) {
      const cached = [...generateTokens(model, prompt, { ...options, maxNewTokens: 20 })];
      const uncached = [...generateTokens(model, prompt, { ...options, maxNewTokens: 20, noCache: true })];
      assert.deepEqual(cached, uncached, JSON.stringify(options));
    }
  });

  test('the same seed gives the same tokens; another seed gives others', () => {
    const options = { temperature: 1, maxNewTokens: 24 };
    const a = [...generateTokens(model, prompt, { ...options, seed: 1 })];
    const b = [...generateTokens(model, prompt, { ...options, seed: 1 })];
    const c = [...generateTokens(model, prompt, { ...options, seed: 2 })];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('greedy decoding picks the argmax; stop tokens end generation; streaming yields the same tokens', async () => {
    const greedy = [...generateTokens(model, prompt, { temperature: 0, maxNewTokens: 10 })];
    const first = model.nextTokenLogits(prompt);
    assert.equal(greedy[0], first.indexOf(Math.max(...first)));
    const stopAt = greedy[3];
    const stopped = [
      ...generateTokens(model, prompt, { temperature: 0, maxNewTokens: 10, stopTokens: [stopAt] }),
    ];
    assert.deepEqual(stopped, greedy.slice(0, greedy.indexOf(stopAt) + 1));
    const streamed: number[] = [];
    for await (const token of generate(model, prompt, { temperature: 0, maxNewTokens: 10 }))
      streamed.push(token);
    assert.deepEqual(streamed, greedy);
  });

  test('top-k 1 equals greedy; invalid sampling options are rejected', () => {
    const greedy = [...generateTokens(model, prompt, { temperature: 0, maxNewTokens: 8 })];
    assert.deepEqual(
      [...generateTokens(model, prompt, { temperature: 0.7, topK: 1, maxNewTokens: 8, seed: 9 })],
      greedy,
    );
    assert.throws(() => [...generateTokens(model, prompt, { topP: 0, maxNewTokens: 1 })], /topP/);
    assert.throws(
      () => [...generateTokens(model, prompt, { temperature: -1, maxNewTokens: 1 })],
      /temperature/,
    );
  });
});
