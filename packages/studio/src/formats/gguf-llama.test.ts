import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LlamaModel, Random } from '@ownlm/engine';
import { trainTokenizer } from '../tokenizer/train.ts';
import { FormatError } from './errors.ts';
import { readGgufHeader, writeGguf } from './gguf.ts';
import {
  ggufTensorName,
  hfTensorName,
  permuteRotaryRows,
  readLlamaGguf,
  TokenType,
  tokenizerMetadata,
  writeLlamaGguf,
  type HfTensor,
} from './gguf-llama.ts';
import { decodeF16, dequantizeQ8_0, encodeF16, quantizeQ4_0, quantizeQ8_0, dequantizeQ4_0 } from './quant.ts';
import { syntheticDocuments } from './fixtures/tiny-model.ts';
import { writeFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-gguf-llama-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the permutation is numpy reshape(n_head, 2, d/2, in).swapaxes(1, 2), and the inverse undoes it', () => {
  const heads = 3;
  const d = 4;
  const cols = 2;
  const w = Float32Array.from({ length: heads * d * cols }, (_, i) => i);
  // Computed independently: element [h, a, b, c] of the swapped array is W[h, b, a, c] reshaped (h, 2, d/2, in).
  const expected: number[] = [];
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < d / 2; a++)
      for (let b = 0; b < 2; b++)
        for (let c = 0; c < cols; c++) expected.push(w[((h * 2 + b) * (d / 2) + a) * cols + c]);
  const permuted = permuteRotaryRows(w, heads, cols);
  assert.deepEqual([...permuted], expected);
  // Row 1 of head 0 is old row d/2 = 2 (values 4, 5).
  assert.deepEqual([...permuted.subarray(2, 4)], [4, 5]);
  assert.deepEqual(permuteRotaryRows(permuted, heads, cols, true), w);
});

test('tensor names map both ways, and only for the llama architecture', () => {
  const pairs = [
    ['model.embed_tokens.weight', 'token_embd.weight'],
    ['model.layers.11.self_attn.k_proj.weight', 'blk.11.attn_k.weight'],
    ['model.layers.0.post_attention_layernorm.weight', 'blk.0.ffn_norm.weight'],
    ['model.layers.3.mlp.down_proj.weight', 'blk.3.ffn_down.weight'],
    ['model.norm.weight', 'output_norm.weight'],
    ['lm_head.weight', 'output.weight'],
  ];
  for (const [hf, gguf] of pairs) {
    assert.equal(ggufTensorName(hf), gguf);
    assert.equal(hfTensorName(gguf), hf);
  }
  assert.equal(ggufTensorName('model.layers.0.self_attn.rotary_emb.inv_freq'), null);
  assert.equal(hfTensorName('blk.0.attn_qkv.weight'), null);
});

const config = {
  vocab_size: 300,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
};

async function tokenizerDir(): Promise<string> {
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, syntheticDocuments(50, 1).join('\n'));
  const out = join(dir, 'tokenizer');
  await trainTokenizer({ inputs: [corpus], outDir: out, vocabSize: 290, workers: 0, overwrite: true });
  return out;
}

function tensorsOf(model: LlamaModel): Map<string, HfTensor> {
  const random = new Random(3);
  const out = new Map<string, HfTensor>();
  for (const [name, p] of model.parameters)
    out.set(name, { shape: p.shape, data: random.fillNormal(new Float32Array(p.size), 0.5) });
  return out;
}

test('export then import gives back every tensor: exact for F32, as rounded or quantized otherwise', async () => {
  const tokenizer = await tokenizerDir();
  const model = new LlamaModel(config);
  const tensors = tensorsOf(model);
  for (const dtype of ['f32', 'f16', 'q8_0', 'q4_0'] as const) {
    const path = join(dir, `rt-${dtype}.gguf`);
    writeLlamaGguf(path, { config: model.config, tensors, tokenizerDir: tokenizer, dtype });
    const read = readLlamaGguf(path);
    assert.deepEqual(read.config, model.config);
    assert.deepEqual([...read.tensors.keys()].sort(), [...tensors.keys()].sort());
    const types = new Map(read.header.tensors.map((t) => [t.name, t.type]));
    for (const [name, t] of tensors) {
      const back = read.tensors.get(name)!;
      assert.deepEqual(back.shape, t.shape, name);
      const type = types.get(ggufTensorName(name)!)!;
      // The values llama.cpp sees, in HF order: each quantizer applies to the permuted rows, and Q8_0/Q4_0
      // blocks run along rows, so permuting rows commutes with quantizing them.
      const expected =
        type === 0
          ? t.data
          : type === 1
            ? decodeF16(encodeF16(t.data))
            : type === 8
              ? dequantizeQ8_0(quantizeQ8_0(t.data), t.data.length)
              : dequantizeQ4_0(quantizeQ4_0(t.data), t.data.length);
      assert.deepEqual(back.data, expected, `${dtype} ${name}`);
      if (t.shape.length === 1) assert.equal(type, 0, `${name} stays F32`);
    }
    const output = types.get('output.weight');
    assert.equal(output, { f32: 0, f16: 1, q8_0: 8, q4_0: 8 }[dtype], 'Q4_0 keeps the output matrix at Q8_0');
    assert.equal(types.get('blk.0.attn_q.weight'), { f32: 0, f16: 1, q8_0: 8, q4_0: 2 }[dtype]);
  }
});

test('metadata: exact llama key types, tokenizer arrays padded to vocab_size, CONTROL special tokens', async () => {
  const tokenizer = await tokenizerDir();
  const model = new LlamaModel({ ...config, tie_word_embeddings: true });
  const path = join(dir, 'meta.gguf');
  writeLlamaGguf(path, {
    config: model.config,
    tensors: tensorsOf(model),
    tokenizerDir: tokenizer,
    dtype: 'q8_0',
  });
  const header = readGgufHeader(path);
  const m = header.metadata;
  const typeOf = (key: string) => m.get(key)?.type;
  for (const key of [
    'general.file_type',
    'general.quantization_version',
    'llama.context_length',
    'llama.embedding_length',
    'llama.block_count',
    'llama.feed_forward_length',
    'llama.attention.head_count',
    'llama.attention.head_count_kv',
    'llama.rope.dimension_count',
    'llama.vocab_size',
    'tokenizer.ggml.bos_token_id',
    'tokenizer.ggml.eos_token_id',
    'tokenizer.ggml.padding_token_id',
  ])
    assert.equal(typeOf(key), 'u32', key);
  assert.equal(typeOf('llama.attention.layer_norm_rms_epsilon'), 'f32');
  assert.equal(typeOf('llama.rope.freq_base'), 'f32');
  assert.equal(m.get('general.file_type')!.value, 7);
  assert.equal(m.get('tokenizer.ggml.model')!.value, 'gpt2');
  assert.equal(m.get('tokenizer.ggml.pre')!.value, 'qwen2');
  assert.equal(m.get('tokenizer.ggml.add_bos_token')!.value, false);
  const tokens = m.get('tokenizer.ggml.tokens')!.value as string[];
  const types = m.get('tokenizer.ggml.token_type')!;
  assert.equal(types.type === 'array' && types.elementType, 'i32');
  assert.equal(tokens.length, 300);
  assert.equal(tokens[299], '[PAD299]');
  assert.equal((types.value as number[])[299], TokenType.UNUSED);
  const endOfText = tokens.indexOf('<|endoftext|>');
  assert.equal(endOfText, 287);
  assert.deepEqual((types.value as number[]).slice(287, 290), [3, 3, 3]);
  assert.equal((types.value as number[])[0], TokenType.NORMAL);
  assert.equal(m.get('tokenizer.ggml.eos_token_id')!.value, endOfText);
  assert.equal(m.get('tokenizer.ggml.bos_token_id')!.value, endOfText);
  assert.match(m.get('tokenizer.chat_template')!.value as string, /<\|im_start\|>/);
  assert.ok((m.get('tokenizer.ggml.merges')!.value as string[]).every((s) => / /.test(s.slice(1))));
  assert.equal(
    header.tensors.find((t) => t.name === 'output.weight'),
    undefined,
    'tied: no output.weight',
  );
  assert.equal(readLlamaGguf(path).config.tie_word_embeddings, true);
  assert.throws(() => tokenizerMetadata(tokenizer, 100), /exceed the model's vocab_size 100/);
});

test('importing refuses other architectures, foreign tensors and wrong shapes, naming them', async () => {
  const tokenizer = await tokenizerDir();
  const model = new LlamaModel(config);
  const good = join(dir, 'good.gguf');
  writeLlamaGguf(good, {
    config: model.config,
    tensors: tensorsOf(model),
    tokenizerDir: tokenizer,
    dtype: 'f32',
  });
  const header = readGgufHeader(good);
  const rewrite = (edit: (m: typeof header.metadata, t: typeof header.tensors) => void) => {
    const metadata = new Map(header.metadata);
    const infos = header.tensors.map((t) => ({ ...t }));
    edit(metadata, infos);
    const path = join(dir, 'edited.gguf');
    writeGguf(
      path,
      metadata,
      infos.map((t) => ({
        name: t.name,
        type: t.type,
        ne: t.ne,
        data: new Uint8Array(t.ne.reduce((a, b) => a * b, 4)),
      })),
    );
    return path;
  };
  const expectError = (path: string, code: string, text: string) =>
    assert.throws(
      () => readLlamaGguf(path),
      (e: FormatError) => e.code === code && e.message.includes(text),
    );
  expectError(
    rewrite((m) => m.set('general.architecture', { type: 'string', value: 'qwen2' })),
    'unsupported',
    'general.architecture": "qwen2" is not supported',
  );
  expectError(
    rewrite((_, t) => t.push({ ...t[0], name: 'rope_freqs.weight', ne: [8] })),
    'unsupported',
    'tensor "rope_freqs.weight": is not part of this llama model',
  );
  expectError(
    rewrite((_, t) => (t[1].ne = [64, 2])),
    'invalid',
    `tensor "${header.tensors[1].name}": has ne [64,2], expected`,
  );
  expectError(
    rewrite((_, t) => t.splice(2, 1)),
    'invalid',
    'is missing',
  );
  expectError(
    rewrite((m) => m.delete('llama.block_count')),
    'invalid',
    'key "llama.block_count": is missing',
  );
  expectError(
    rewrite((m) => m.set('llama.rope.scaling.type', { type: 'string', value: 'yarn' })),
    'unsupported',
    'RoPE scaling',
  );
});
