import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LlamaModel, Random } from '@ownlm/engine';
import { trainTokenizer } from '../tokenizer/train.ts';
import { FormatError } from './errors.ts';
import { syntheticDocuments } from './fixtures/tiny-model.ts';
import type { HfTensor } from './gguf-llama.ts';
import { parseHfConfig, readHfWeights, readModelConfig, writeHfFolder } from './hf-folder.ts';
import { decodeBf16, encodeBf16 } from './quant.ts';
import { writeSafetensors } from './safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-hf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let tokenizerDir: string;
const model = new LlamaModel({
  vocab_size: 300,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
});
const random = new Random(5);
const tensors = new Map<string, HfTensor>(
  [...model.parameters].map(([name, p]) => [
    name,
    { shape: p.shape, data: random.fillNormal(new Float32Array(p.size), 1) },
  ]),
);

before(async () => {
  writeFileSync(join(dir, 'corpus.txt'), syntheticDocuments(40, 2).join('\n'));
  tokenizerDir = join(dir, 'tokenizer');
  await trainTokenizer({
    inputs: [join(dir, 'corpus.txt')],
    outDir: tokenizerDir,
    vocabSize: 290,
    workers: 0,
  });
});

test('a folder transformers reads: config.json (Llama keys, sorted), weights, generation config, tokenizer files', () => {
  const out = join(dir, 'model');
  writeHfFolder(out, { config: model.config, tensors, tokenizerDir });
  assert.deepEqual(readdirSync(out).sort(), [
    'chat_template.jinja',
    'config.json',
    'generation_config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const text = readFileSync(join(out, 'config.json'), 'utf8');
  const config = JSON.parse(text);
  assert.deepEqual(Object.keys(config), Object.keys(config).sort());
  assert.deepEqual(config.architectures, ['LlamaForCausalLM']);
  assert.equal(config.model_type, 'llama');
  assert.equal(config.hidden_act, 'silu');
  assert.equal(config.rope_theta, 10000);
  assert.equal(config.rope_scaling, null);
  assert.equal(config.num_key_value_heads, 2);
  assert.equal(config.head_dim, 8);
  assert.equal(config.torch_dtype, 'float32');
  assert.equal(config.tie_word_embeddings, false);
  assert.equal(config.eos_token_id, 287, '<|endoftext|> follows the 287 learned tokens');
  assert.equal(config.bos_token_id, 287);
  assert.ok(text.startsWith('{\n  "architectures": [\n    "LlamaForCausalLM"\n  ],\n'));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')), {
    _from_model_config: true,
    bos_token_id: 287,
    eos_token_id: 287,
  });
  assert.equal(
    readFileSync(join(out, 'tokenizer.json'), 'utf8'),
    readFileSync(join(tokenizerDir, 'tokenizer.json'), 'utf8'),
  );
  assert.deepEqual(readModelConfig(out), model.config);
  const read = readHfWeights(out, model.config);
  for (const [name, t] of tensors) assert.deepEqual(read.get(name)!.data, t.data, name);
  assert.throws(
    () => writeHfFolder(out, { config: model.config, tensors, tokenizerDir }),
    /already exists and is not empty; pass --force/,
  );
});

test('BF16 weights and shards above the size limit read back', () => {
  const out = join(dir, 'sharded');
  writeHfFolder(out, { config: model.config, tensors, tokenizerDir, dtype: 'bf16', maxShardBytes: 8000 });
  const files = readdirSync(out).filter((f) => f.includes('safetensors'));
  assert.ok(files.includes('model.safetensors.index.json'));
  assert.ok(files.length > 3, files.join(' '));
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
  const read = readHfWeights(out, readModelConfig(out));
  for (const [name, t] of tensors)
    assert.deepEqual(read.get(name)!.data, decodeBf16(encodeBf16(t.data)), name);
});

test('config.json: Llama-family readers accepted, what the engine would compute differently refused', () => {
  const base = JSON.parse(readFileSync(join(dir, 'model', 'config.json'), 'utf8'));
  const parse = (edit: Record<string, unknown>) => parseHfConfig({ ...base, ...edit }, 'config.json');
  assert.equal(
    parse({ rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 500000 } })
      .rope_theta,
    500000,
  );
  assert.equal(parse({ num_key_value_heads: null, head_dim: null }).num_key_value_heads, 4);
  assert.equal(parse({ num_key_value_heads: null, head_dim: null }).head_dim, 8);
  assert.equal(parse({ architectures: ['MistralForCausalLM'], sliding_window: null }).hidden_size, 32);
  const refuse = (edit: Record<string, unknown>, code: string, text: string) =>
    assert.throws(
      () => parse(edit),
      (e: FormatError) =>
        e.code === code && e.message.startsWith('config.json: ') && e.message.includes(text),
    );
  refuse(
    { architectures: ['Qwen2ForCausalLM'] },
    'unsupported',
    'architectures: "Qwen2ForCausalLM" is not a Llama-family model',
  );
  refuse(
    { rope_scaling: { rope_type: 'llama3', factor: 8 } },
    'unsupported',
    'rope_scaling: RoPE scaling "llama3"',
  );
  refuse({ hidden_act: 'gelu' }, 'unsupported', 'hidden_act');
  refuse({ mlp_bias: true }, 'unsupported', 'mlp_bias');
  refuse({ num_attention_heads: 3 }, 'invalid', 'must be a multiple of num_key_value_heads');
  refuse({ num_hidden_layers: '2' }, 'invalid', 'num_hidden_layers must be a positive integer');
  refuse({ tie_word_embeddings: 'yes' }, 'invalid', 'tie_word_embeddings: must be true or false');
  // Values are quoted without walking them: JSON.stringify overflowed its stack on a deep one, threw on a bigint.
  const deep: unknown = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  refuse({ architectures: [deep] }, 'unsupported', 'architectures: an array is not a Llama-family model');
  refuse({ rope_scaling: { rope_type: { deep } } }, 'unsupported', 'RoPE scaling an object is not');
  refuse({ hidden_act: 2n ** 64n }, 'unsupported', 'hidden_act: 18446744073709551616 (only silu');
});

test('weights are checked against config.json: missing, misshapen and foreign tensors are named', () => {
  const out = join(dir, 'weights');
  writeHfFolder(out, { config: model.config, tensors, tokenizerDir });
  const file = join(out, 'model.safetensors');
  const write = (edit: (entries: [string, HfTensor][]) => [string, HfTensor][]) =>
    writeSafetensors(
      file,
      edit([...tensors]).map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
    );
  const refuse = (code: string, text: string) =>
    assert.throws(
      () => readHfWeights(out, model.config),
      (e: FormatError) => e.code === code && e.message.includes(text),
    );
  write((e) => e.filter(([name]) => name !== 'model.norm.weight'));
  refuse('invalid', 'tensor "model.norm.weight": is missing');
  write((e) =>
    e.map(([name, t]) => [name, name === 'model.norm.weight' ? { shape: [4, 8], data: t.data } : t]),
  );
  refuse('invalid', `${file}: tensor "model.norm.weight": has shape [4,8], config.json gives [32]`);
  write((e) => [...e, ['model.layers.0.mlp.experts.0.weight', { shape: [1], data: new Float32Array(1) }]]);
  refuse('unsupported', 'tensor "model.layers.0.mlp.experts.0.weight": is not part of a Llama model');
  write((e) => [
    ...e,
    ['model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [4], data: new Float32Array(4) }],
  ]);
  assert.equal(readHfWeights(out, model.config).size, tensors.size, 'rotary inv_freq buffers are ignored');
  const tiedConfig = { ...model.config, tie_word_embeddings: true };
  write((e) => e);
  assert.equal(
    readHfWeights(out, tiedConfig).has('lm_head.weight'),
    false,
    'a tied model drops a stored lm_head',
  );
});
