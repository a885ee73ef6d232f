// PEFT adapter folders: tensor names and shapes checked against docs/FORMATS.md#peft-adapter-weights (written from
// the spec, not from the engine's key helper) for every target and layer, adapter_config.json's exact text, the
// safetensors bytes against its layout, a round trip into a fresh model, and every rejection naming its field.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LlamaModel, LORA_TARGETS, noGrad, Random, type LoraAdapter } from '@ownlm/engine';
import { FormatError } from './errors.ts';
import { applyPeftAdapter, readPeftAdapter, writePeftAdapter } from './peft-adapter.ts';
import { decodeBf16, encodeBf16 } from './quant.ts';
import { writeSafetensors } from './safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-peft-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// GQA with head_dim 4 (H = 20, 5 heads, 1 KV head) and an intermediate size unlike any other dimension.
const config = {
  vocab_size: 41,
  hidden_size: 20,
  intermediate_size: 14,
  num_hidden_layers: 3,
  num_attention_heads: 5,
  num_key_value_heads: 1,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-5,
};

function trainedAdapter(model: LlamaModel, rank = 3): LoraAdapter {
  const adapter = model.attachLora({ rank, alpha: 12, dropout: 0.05, targets: LORA_TARGETS, seed: 2 });
  const random = new Random(3);
  for (const p of adapter.parameters.values()) random.fillNormal(p.data, 0.2);
  return adapter;
}

/** PEFT's `…self_attn.q_proj.lora_A.weight` [r, in], `…lora_B.weight` [out, r], with in/out per projection. */
function specTensorList(r: number): Map<string, number[]> {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const hd = H / config.num_attention_heads;
  const q = config.num_attention_heads * hd;
  const kv = config.num_key_value_heads * hd;
  const modules: [string, number, number][] = [
    ['self_attn.q_proj', H, q],
    ['self_attn.k_proj', H, kv],
    ['self_attn.v_proj', H, kv],
    ['self_attn.o_proj', q, H],
    ['mlp.gate_proj', H, I],
    ['mlp.up_proj', H, I],
    ['mlp.down_proj', I, H],
  ];
  const list = new Map<string, number[]>();
  for (let n = 0; n < config.num_hidden_layers; n++) {
    for (const [module, inFeatures, out] of modules) {
      list.set(`base_model.model.model.layers.${n}.${module}.lora_A.weight`, [r, inFeatures]);
      list.set(`base_model.model.model.layers.${n}.${module}.lora_B.weight`, [out, r]);
    }
  }
  return list;
}

describe('PEFT adapter folder', () => {
  const model = new LlamaModel(config, { seed: 1 });
  const adapter = trainedAdapter(model);
  const out = join(dir, 'adapter');
  writePeftAdapter(out, adapter, { baseModel: 'ownlm/tiny' });

  test('adapter_config.json is what PEFT writes: sorted keys, 2-space indent', () => {
    assert.equal(
      readFileSync(join(out, 'adapter_config.json'), 'utf8'),
      `{
  "base_model_name_or_path": "ownlm/tiny",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "lora_alpha": 12,
  "lora_dropout": 0.05,
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 3,
  "target_modules": [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": false
}`,
    );
  });

  test('adapter_model.safetensors: the spec tensor list, F32, {"format":"pt"}, bytes laid out as safetensors', () => {
    const bytes = readFileSync(join(out, 'adapter_model.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0, 'header padded to 8 bytes');
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    assert.match(text, /^\{"__metadata__":\{"format":"pt"\},/);
    const header = JSON.parse(text) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: number[] }
    >;
    delete header.__metadata__;
    const expected = specTensorList(3);
    assert.deepEqual(Object.keys(header).sort(), [...expected.keys()].sort(), 'exactly the spec names');
    // One dtype: tensors in byte-wise name order, packed from offset 0 to the end of the file.
    const names = Object.keys(header);
    assert.deepEqual(
      names,
      [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    let offset = 0;
    for (const name of names) {
      const { dtype, shape, data_offsets: offsets } = header[name];
      assert.equal(dtype, 'F32', name);
      assert.deepEqual(shape, expected.get(name), `${name} shape`);
      assert.deepEqual(offsets, [offset, offset + 4 * shape[0] * shape[1]], `${name} offsets`);
      const start = 8 + n + offset;
      const values = new Float32Array(
        bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + offsets[1] - offsets[0]),
      );
      assert.deepEqual(values, adapter.parameters.get(name)!.data, `${name} values`);
      offset = offsets[1];
    }
    assert.equal(8 + n + offset, bytes.length, 'no trailing bytes');
  });

  test('round trip: read back, applied to a fresh copy of the base it gives the same logits', () => {
    const read = readPeftAdapter(out, model.config);
    assert.deepEqual(read.config, {
      peft_type: 'LORA',
      r: 3,
      lora_alpha: 12,
      lora_dropout: 0.05,
      target_modules: [...LORA_TARGETS],
      use_rslora: false,
      base_model_name_or_path: 'ownlm/tiny',
    });
    assert.deepEqual([...read.tensors.keys()], [...adapter.parameters.keys()]);
    for (const [name, t] of read.tensors) assert.deepEqual(t.data, adapter.parameters.get(name)!.data, name);

    const copy = new LlamaModel(config, { seed: 1 });
    const applied = applyPeftAdapter(copy, out);
    assert.equal(copy.lora, applied);
    assert.equal(applied.scaling, adapter.scaling);
    const tokens = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
    const shape = { batch: 1, seq: tokens.length };
    const expected = noGrad(() => model.forward(tokens, shape).data);
    assert.deepEqual(
      noGrad(() => copy.forward(tokens, shape).data),
      expected,
    );
    copy.detachLora();
    assert.notDeepEqual(
      noGrad(() => copy.forward(tokens, shape).data),
      expected,
      'the adapter matters',
    );
  });

  test('rsLoRA, a subset of targets, and reading without the model config', () => {
    const other = new LlamaModel(config, { seed: 1 });
    const small = other.attachLora({ rank: 1, alpha: 2, targets: ['v_proj', 'q_proj'], rslora: true });
    const path = join(dir, 'rs');
    writePeftAdapter(path, small, { baseModel: '/models/base' });
    const read = readPeftAdapter(path);
    assert.deepEqual(read.options, {
      rank: 1,
      alpha: 2,
      dropout: 0,
      targets: ['q_proj', 'v_proj'],
      rslora: true,
    });
    assert.deepEqual([...read.tensors.keys()], [...small.parameters.keys()]);
    assert.equal(read.tensors.size, config.num_hidden_layers * 2 * 2);
  });

  test('BF16 tensors (as PEFT saves a bfloat16 model\'s adapter) and target_modules "all-linear" are read', () => {
    const path = join(dir, 'bf16');
    writePeftAdapter(path, adapter, { baseModel: 'ownlm/tiny' });
    const configFile = join(path, 'adapter_config.json');
    const c = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...c, target_modules: 'all-linear' }));
    writeSafetensors(
      join(path, 'adapter_model.safetensors'),
      [...adapter.parameters].map(([name, p]) => ({
        name,
        dtype: 'BF16' as const,
        shape: p.shape,
        data: p.data,
      })),
    );
    const read = readPeftAdapter(path, model.config);
    assert.deepEqual(read.config.target_modules, [...LORA_TARGETS]);
    for (const [name, p] of adapter.parameters)
      assert.deepEqual(read.tensors.get(name)!.data, decodeBf16(encodeBf16(p.data)), name);
  });
});

describe('PEFT adapter rejections name the file and the field', () => {
  const model = new LlamaModel(config);
  const adapter = trainedAdapter(model, 2);
  let count = 0;

  /** A valid folder, then `edit` applied to its config and tensors. */
  function folder(
    edit: {
      config?: (c: Record<string, unknown>) => void;
      tensors?: (t: Map<string, { shape: number[]; data: Float32Array }>) => void;
    } = {},
  ): string {
    const path = join(dir, `bad-${count++}`);
    writePeftAdapter(path, adapter, { baseModel: 'base' });
    const c = JSON.parse(readFileSync(join(path, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    edit.config?.(c);
    writeFileSync(join(path, 'adapter_config.json'), JSON.stringify(c));
    const tensors = new Map(
      [...adapter.parameters].map(([name, p]) => [name, { shape: [...p.shape], data: p.data }]),
    );
    edit.tensors?.(tensors);
    writeSafetensors(
      join(path, 'adapter_model.safetensors'),
      [...tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, ...t })),
    );
    return path;
  }

  function rejects(path: string, file: string, field: string, message: RegExp, withConfig = true): void {
    assert.throws(
      () => readPeftAdapter(path, withConfig ? model.config : undefined),
      (error: unknown) => {
        assert.ok(error instanceof FormatError, String(error));
        assert.equal(error.file, join(path, file));
        assert.equal(error.field, field);
        assert.match(error.message, message);
        return true;
      },
    );
  }

  const A0 = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
  const B1 = 'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight';

  test('the config', () => {
    rejects(join(dir, 'nowhere'), 'adapter_config.json', '', /no such file/);
    const cfg = 'adapter_config.json';
    rejects(folder({ config: (c) => (c.peft_type = 'IA3') }), cfg, 'peft_type', /only LORA/);
    rejects(folder({ config: (c) => (c.r = 0) }), cfg, 'r', /positive integer/);
    rejects(folder({ config: (c) => (c.lora_alpha = 'x') }), cfg, 'lora_alpha', /positive number/);
    rejects(
      folder({ config: (c) => (c.target_modules = ['q_proj', 'lm_head']) }),
      cfg,
      'target_modules',
      /"lm_head"/,
    );
    rejects(
      folder({ config: (c) => (c.target_modules = '.*proj') }),
      cfg,
      'target_modules',
      /regular expressions/,
    );
    rejects(folder({ config: (c) => (c.use_dora = true) }), cfg, 'use_dora', /DoRA/);
    rejects(folder({ config: (c) => (c.rank_pattern = { q_proj: 4 }) }), cfg, 'rank_pattern', /per-module/);
    rejects(
      folder({ config: (c) => (c.modules_to_save = ['lm_head']) }),
      cfg,
      'modules_to_save',
      /not supported/,
    );
    // Values are quoted without walking them: JSON.stringify overflowed its stack on a deep one.
    const deep = folder({ config: (c) => (c.r = 'deep') });
    const text = readFileSync(join(deep, cfg), 'utf8');
    writeFileSync(join(deep, cfg), text.replace('"deep"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    rejects(deep, cfg, 'r', /must be a positive integer, got an array$/);
  });

  test('the tensors', () => {
    const file = 'adapter_model.safetensors';
    const unknown = 'base_model.model.model.layers.0.mlp.q_proj.lora_A.weight';
    rejects(
      folder({ tensors: (t) => t.set(unknown, t.get(A0)!) }),
      file,
      `tensor "${unknown}"`,
      /not a LoRA tensor/,
    );
    const embedding = 'base_model.model.model.embed_tokens.lora_embedding_A';
    rejects(
      folder({ tensors: (t) => t.set(embedding, t.get(A0)!) }),
      file,
      `tensor "${embedding}"`,
      /not a LoRA/,
    );
    rejects(folder({ tensors: (t) => t.delete(B1) }), file, `tensor "${B1}"`, /is missing/);
    rejects(folder({ tensors: (t) => t.delete(B1) }), file, `tensor "${B1}"`, /is missing/, false);
    rejects(
      folder({ tensors: (t) => t.set(A0, { shape: [2, 19], data: new Float32Array(38) }) }),
      file,
      `tensor "${A0}".shape`,
      /needs \[2,20\]/,
    );
    rejects(
      folder({ tensors: (t) => t.set(A0, { shape: [3, 20], data: new Float32Array(60) }) }),
      file,
      `tensor "${A0}".shape`,
      /\[r=2, in\]/,
    );
    rejects(
      folder({ config: (c) => (c.target_modules = ['q_proj']) }),
      file,
      // The first listed tensor in file (byte-wise name) order that q_proj alone does not cover.
      'tensor "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"',
      /target_modules does not list/,
    );
    const extraLayer = 'base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight';
    rejects(
      folder({ tensors: (t) => t.set(extraLayer, t.get(A0)!) }),
      file,
      `tensor "${extraLayer}"`,
      /does not exist/,
    );
  });
});
