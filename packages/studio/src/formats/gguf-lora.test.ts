// GGUF LoRA adapters against llama.cpp itself (node-llama-cpp's prebuilt CPU build): a base exported to F32
// GGUF plus the adapter GGUF, applied by llama.cpp at run time, must continue prompts exactly as the engine
// does with the adapter attached, differently from the base alone, and as llama.cpp does on the GGUF of the
// merged model. The adapter's keys and tensors are checked against docs/FORMATS.md#gguf-lora-adapters.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { argmax, LlamaModel, LORA_TARGETS, Random, type LoraAdapter, type LoraOptions } from '@ownlm/engine';
import { TINY_PROMPTS, trainTinyModel, type TinyModel } from './fixtures/tiny-model.ts';
import { readGgufHeader, readGgufTensorBytes } from './gguf.ts';
import { permuteRotaryRows, writeLlamaGguf } from './gguf-llama.ts';
import { writeGgufLoraAdapter } from './gguf-lora.ts';
import { openLlamaCpp, type LlamaCppOptions } from './llama-cpp.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-gguf-lora-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CONTINUATION = 16;
let tiny: TinyModel;
let prompts: number[][];

before(async () => {
  // Only the tokenizer is trained (llama.cpp needs one in the GGUF); the model stays random. Its 2-D weights
  // are scaled up so logits spread widely and greedy choices are not near-ties that rounding could flip.
  // GQA (4 query heads over 2 KV heads) checks that K's B is permuted with n_head_kv.
  tiny = await trainTinyModel(join(dir, 'tiny'), { steps: 0 });
  for (const p of tiny.model.parameters.values())
    if (p.shape.length === 2) p.data.forEach((x, i) => (p.data[i] = x * 10));
  prompts = TINY_PROMPTS.map((text) => [...tiny.tokenizer.encode(text)]);
});

function exportModel(model: LlamaModel, name: string): string {
  const path = join(dir, `${name}.gguf`);
  const tensors = new Map([...model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]));
  writeLlamaGguf(path, { config: model.config, tensors, tokenizerDir: tiny.tokenizerDir, dtype: 'f32' });
  readGgufHeader(path);
  return path;
}

/** A copy of the tiny base with an adapter whose A and B are random, so it changes the continuations. */
function adapted(options: LoraOptions, seed: number): { model: LlamaModel; adapter: LoraAdapter } {
  const model = new LlamaModel(tiny.model.config);
  for (const [name, p] of tiny.model.parameters) model.parameters.get(name)!.data.set(p.data);
  const adapter = model.attachLora(options);
  const random = new Random(seed);
  for (const [name, p] of adapter.parameters) random.fillNormal(p.data, name.includes('lora_A') ? 0.15 : 0.2);
  return { model, adapter };
}

interface Greedy {
  tokens: number[];
  /** The engine's logits before each token. */
  logits: Float32Array[];
}

function engineGreedy(model: LlamaModel): Greedy[] {
  return prompts.map((ids) => {
    const cache = model.createCache();
    const out: Greedy = { tokens: [], logits: [] };
    let logits = model.nextTokenLogits(Int32Array.from(ids), cache);
    for (let i = 0; i < CONTINUATION; i++) {
      out.tokens.push(argmax(logits));
      out.logits.push(logits);
      logits = model.nextTokenLogits(Int32Array.of(out.tokens[i]), cache);
    }
    return out;
  });
}

/**
 * A random model's greedy choices include near-ties (logits 1e-4 apart) that two float32 implementations may
 * break differently; after such a point the continuations part for good. Typical top-two gaps here are 0.1–1,
 * and the engine and llama.cpp agree on logits to about 1e-4, so a disagreement counts only where the engine's
 * two candidates are under 0.01 apart. A wrong adapter (scale, permutation, shapes) parts them at wide gaps.
 */
const NEAR_TIE = 0.01;

/** Asserts llama.cpp's continuations follow the engine's up to near-ties; returns the tokens that agreed. */
function assertFollows(ours: Greedy[], theirs: number[][], what: string): number {
  let agreed = 0;
  ours.forEach((o, p) => {
    const at = o.tokens.findIndex((t, i) => t !== theirs[p][i]);
    if (at < 0) return (agreed += o.tokens.length);
    const gap = o.logits[at][o.tokens[at]] - o.logits[at][theirs[p][at]];
    assert.ok(
      gap < NEAR_TIE,
      `${what}, prompt ${p}: token ${at} is ${theirs[p][at]} in llama.cpp and ${o.tokens[at]} in the engine, ${gap} apart`,
    );
    agreed += at;
  });
  // Most tokens must have been compared, or the check above would say little.
  assert.ok(agreed >= (ours.length * CONTINUATION) / 2, `${what}: only ${agreed} tokens agreed`);
  return agreed;
}

async function llamaCppGreedy(path: string, options: LlamaCppOptions = {}): Promise<number[][]> {
  const cpp = await openLlamaCpp(path, tiny.model.config.max_position_embeddings, options);
  try {
    const out: number[][] = [];
    for (const ids of prompts) out.push(await cpp.greedy(ids, CONTINUATION));
    return out;
  } finally {
    await cpp.close();
  }
}

const cases: [string, LoraOptions][] = [
  ['rank 4 on every projection', { rank: 4, alpha: 8, targets: LORA_TARGETS }],
  [
    'rsLoRA rank 3 on q, k and down',
    { rank: 3, alpha: 5, targets: ['q_proj', 'k_proj', 'down_proj'], rslora: true },
  ],
];

describe('GGUF LoRA adapter', () => {
  test('the keys and tensors llama.cpp reads: names, dims, f32 alpha (alpha·√r for rsLoRA), B of q and k permuted', () => {
    const { adapter } = adapted(cases[1][1], 1);
    const path = join(dir, 'layout.gguf');
    writeGgufLoraAdapter(path, adapter, tiny.model.config);
    const header = readGgufHeader(path);
    const kv = Object.fromEntries([...header.metadata].map(([k, v]) => [k, v]));
    assert.deepEqual(kv['general.type'], { type: 'string', value: 'adapter' });
    assert.deepEqual(kv['general.architecture'], { type: 'string', value: 'llama' });
    assert.deepEqual(kv['adapter.type'], { type: 'string', value: 'lora' });
    assert.equal(kv['adapter.lora.alpha'].type, 'f32');
    assert.ok(Math.abs((kv['adapter.lora.alpha'].value as number) - 5 * Math.sqrt(3)) < 1e-6);

    const { hidden_size: h, intermediate_size: f, head_dim: d } = tiny.model.config;
    const expected = new Map<string, number[]>();
    for (const layer of [0, 1]) {
      expected.set(`blk.${layer}.attn_q.weight.lora_a`, [h, 3]);
      expected.set(`blk.${layer}.attn_q.weight.lora_b`, [3, 4 * d]);
      expected.set(`blk.${layer}.attn_k.weight.lora_a`, [h, 3]);
      expected.set(`blk.${layer}.attn_k.weight.lora_b`, [3, 2 * d]);
      expected.set(`blk.${layer}.ffn_down.weight.lora_a`, [f, 3]);
      expected.set(`blk.${layer}.ffn_down.weight.lora_b`, [3, h]);
    }
    assert.deepEqual(
      new Map(header.tensors.map((t) => [t.name, [...t.ne]])),
      expected,
      'names and ne (numpy shape reversed)',
    );
    assert.ok(
      header.tensors.every((t) => t.type === 0),
      'all F32',
    );

    const bytes = readGgufTensorBytes(header);
    const values = (name: string) => {
      const b = bytes.get(name)!;
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const p = (key: string) => adapter.parameters.get(`base_model.model.model.layers.1.${key}`)!.data;
    assert.deepEqual(values('blk.1.attn_q.weight.lora_a'), p('self_attn.q_proj.lora_A.weight'), 'A as is');
    assert.deepEqual(values('blk.1.ffn_down.weight.lora_b'), p('mlp.down_proj.lora_B.weight'), 'B as is');
    assert.deepEqual(
      values('blk.1.attn_q.weight.lora_b'),
      permuteRotaryRows(p('self_attn.q_proj.lora_B.weight'), 4, 3),
      "q's B permuted over 4 heads",
    );
    assert.deepEqual(
      values('blk.1.attn_k.weight.lora_b'),
      permuteRotaryRows(p('self_attn.k_proj.lora_B.weight'), 2, 3),
      "k's B permuted over 2 KV heads",
    );
  });

  test('a mismatched adapter is refused before anything is written', () => {
    const { adapter } = adapted(cases[0][1], 2);
    const other = { ...tiny.model.config, intermediate_size: tiny.model.config.intermediate_size + 1 };
    assert.throws(
      () => writeGgufLoraAdapter(join(dir, 'bad.gguf'), adapter, other),
      /layer 0 gate_proj needs A \[4, 64\] and B \[161, 4\]/,
    );
  });

  for (const [title, options] of cases) {
    test(`llama.cpp with the adapter continues as the engine with it, and unlike the base (${title})`, async () => {
      const basePath = exportModel(tiny.model, 'base');
      const { model, adapter } = adapted(options, 3);
      const loraPath = join(dir, `${title.split(' ')[0]}.gguf`);
      writeGgufLoraAdapter(loraPath, adapter, model.config);
      readGgufHeader(loraPath);

      const ours = engineGreedy(model);
      const withAdapter = await llamaCppGreedy(basePath, { lora: loraPath });
      assertFollows(ours, withAdapter, 'llama.cpp with the adapter against the engine with it');
      const base = await llamaCppGreedy(basePath);
      assertFollows(engineGreedy(tiny.model), base, 'llama.cpp base against the engine base');
      assert.ok(
        withAdapter.every((tokens, i) => tokens.slice(0, 4).join() !== base[i].slice(0, 4).join()),
        'the adapter changes the first tokens of every continuation',
      );
      assert.deepEqual(
        await llamaCppGreedy(basePath, { lora: loraPath, loraScale: 0 }),
        base,
        'scale 0 turns the adapter off',
      );

      model.mergeLora();
      const merged = await llamaCppGreedy(exportModel(model, 'merged'));
      // With the check of the adapter above: both follow the engine, so they follow each other.
      assertFollows(ours, merged, 'llama.cpp on the merged GGUF against the engine with the adapter');
    });
  }
});
