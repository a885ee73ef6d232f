// Llama models in GGUF as llama.cpp's `llama` architecture reads them (docs/FORMATS.md#gguf-llama-models): the
// hyperparameters under their exact key types, tensors under GGUF names with dims reversed, Q and K rows
// permuted from Hugging Face's rotate_half RoPE to the interleaved pairs llama.cpp's NORM RoPE uses, norms kept
// F32, and the byte-level BPE tokenizer with the pre-tokenizer id llama.cpp needs to split text as we do.
// Reading maps all of it back: GGUF names to Hugging Face names, the inverse permutation, dequantization.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { llamaConfig, type LlamaConfig } from '@ownlm/engine';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { FormatError, quoteValue } from './errors.ts';
import {
  dequantizeTensor,
  GGML_TYPES,
  GgmlType,
  readGgufHeader,
  readGgufTensorBytes,
  writeGguf,
  type GgufHeader,
  type GgufScalar,
  type GgufTensorInput,
  type GgufValue,
} from './gguf.ts';
import { encodeBf16, encodeF16, QK, quantizeQ4_0, quantizeQ8_0 } from './quant.ts';

export type GgufDtype = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';
export const GGUF_DTYPES: readonly GgufDtype[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];

/** `general.file_type` (LlamaFileType) per export dtype. */
const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 };

/** Token types of `tokenizer.ggml.token_type`. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** A tensor in Hugging Face terms: numpy-order shape and float32 values. */
export interface HfTensor {
  shape: readonly number[];
  data: Float32Array;
}

const LAYER_NAMES: [hf: string, gguf: string][] = [
  ['input_layernorm.weight', 'attn_norm.weight'],
  ['self_attn.q_proj.weight', 'attn_q.weight'],
  ['self_attn.k_proj.weight', 'attn_k.weight'],
  ['self_attn.v_proj.weight', 'attn_v.weight'],
  ['self_attn.o_proj.weight', 'attn_output.weight'],
  ['self_attn.q_proj.bias', 'attn_q.bias'],
  ['self_attn.k_proj.bias', 'attn_k.bias'],
  ['self_attn.v_proj.bias', 'attn_v.bias'],
  ['self_attn.o_proj.bias', 'attn_output.bias'],
  ['post_attention_layernorm.weight', 'ffn_norm.weight'],
  ['mlp.gate_proj.weight', 'ffn_gate.weight'],
  ['mlp.up_proj.weight', 'ffn_up.weight'],
  ['mlp.down_proj.weight', 'ffn_down.weight'],
];
const GLOBAL_NAMES: [hf: string, gguf: string][] = [
  ['model.embed_tokens.weight', 'token_embd.weight'],
  ['model.norm.weight', 'output_norm.weight'],
  ['lm_head.weight', 'output.weight'],
];
const HF_LAYER = /^model\.layers\.(\d+)\.(.+)$/;
const GGUF_LAYER = /^blk\.(\d+)\.(.+)$/;

/** The GGUF name of a Hugging Face Llama tensor, or null for a tensor the `llama` architecture lacks. */
export function ggufTensorName(hfName: string): string | null {
  const global = GLOBAL_NAMES.find(([hf]) => hf === hfName);
  if (global) return global[1];
  const m = HF_LAYER.exec(hfName);
  const suffix = m && LAYER_NAMES.find(([hf]) => hf === m[2]);
  return suffix ? `blk.${m[1]}.${suffix[1]}` : null;
}

/** The Hugging Face name of a GGUF `llama` tensor, or null. */
export function hfTensorName(ggufName: string): string | null {
  const global = GLOBAL_NAMES.find(([, gguf]) => gguf === ggufName);
  if (global) return global[0];
  const m = GGUF_LAYER.exec(ggufName);
  const suffix = m && LAYER_NAMES.find(([, gguf]) => gguf === m[2]);
  return suffix ? `model.layers.${m[1]}.${suffix[0]}` : null;
}

/**
 * Reorders the rows of a [heads·d, cols] matrix (or a bias, cols = 1) from rotate_half pairs (i, i + d/2) to
 * interleaved pairs (2i, 2i + 1) within each head: new row h·d + 2i + j = old row h·d + j·d/2 + i. `inverse`
 * undoes it.
 */
export function permuteRotaryRows(
  data: Float32Array,
  heads: number,
  cols: number,
  inverse = false,
): Float32Array {
  const rows = data.length / cols;
  const d = rows / heads;
  if (!Number.isInteger(d) || d % 2 !== 0)
    throw new RangeError(`permute: ${rows} rows do not split into ${heads} heads of even size`);
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < d / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const interleaved = (h * d + 2 * i + j) * cols;
        const halves = (h * d + j * (d / 2) + i) * cols;
        const [to, from] = inverse ? [halves, interleaved] : [interleaved, halves];
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** Heads of a q/k projection or bias (by name) for the permutation, or 0 when the tensor is not permuted. */
function rotaryHeads(hfName: string, config: LlamaConfig): number {
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return config.num_attention_heads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return config.num_key_value_heads;
  return 0;
}

/**
 * The ggml type of a tensor in an export: 1-D tensors stay F32 (as the converter keeps norms); quantized
 * exports fall back to F16 for rows that are not whole blocks (as the converter does), and Q4_0 keeps the
 * output matrix (or the tied embedding serving as it) at Q8_0, in place of llama-quantize's Q6_K.
 */
function exportType(ggufName: string, ne: readonly number[], dtype: GgufDtype, tied: boolean): number {
  if (ne.length === 1 || dtype === 'f32') return GgmlType.F32;
  if (dtype === 'f16') return GgmlType.F16;
  if (dtype === 'bf16') return GgmlType.BF16;
  if (ne[0] % QK !== 0) return GgmlType.F16;
  const isOutput = ggufName === 'output.weight' || (tied && ggufName === 'token_embd.weight');
  return dtype === 'q4_0' && !isOutput ? GgmlType.Q4_0 : GgmlType.Q8_0;
}

function encode(values: Float32Array, type: number): Uint8Array {
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (type) {
    case GgmlType.F32:
      return bytes(values);
    case GgmlType.F16:
      return bytes(encodeF16(values));
    case GgmlType.BF16:
      return bytes(encodeBf16(values));
    case GgmlType.Q8_0:
      return quantizeQ8_0(values);
    default:
      return quantizeQ4_0(values);
  }
}

const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const f32 = (value: number): GgufValue => ({ type: 'f32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });

/** The `general.*` and `llama.*` keys with the types llama.cpp's loader checks. */
export function llamaMetadata(config: LlamaConfig, dtype: GgufDtype, name: string): Map<string, GgufValue> {
  const m = new Map<string, GgufValue>([
    ['general.architecture', str('llama')],
    ['general.type', str('model')],
    ['general.name', str(name)],
    ['general.file_type', u32(FILE_TYPE[dtype])],
    ['llama.vocab_size', u32(config.vocab_size)],
    ['llama.context_length', u32(config.max_position_embeddings)],
    ['llama.embedding_length', u32(config.hidden_size)],
    ['llama.block_count', u32(config.num_hidden_layers)],
    ['llama.feed_forward_length', u32(config.intermediate_size)],
    ['llama.attention.head_count', u32(config.num_attention_heads)],
    ['llama.attention.head_count_kv', u32(config.num_key_value_heads)],
    ['llama.attention.layer_norm_rms_epsilon', f32(config.rms_norm_eps)],
    ['llama.rope.freq_base', f32(config.rope_theta)],
    ['llama.rope.dimension_count', u32(config.head_dim)],
  ]);
  if (config.head_dim * config.num_attention_heads !== config.hidden_size) {
    m.set('llama.attention.key_length', u32(config.head_dim));
    m.set('llama.attention.value_length', u32(config.head_dim));
  }
  if (dtype === 'q8_0' || dtype === 'q4_0') m.set('general.quantization_version', u32(2));
  return m;
}

/** "<|…|>"-style texts the converter marks CONTROL even when not flagged special (`does_token_look_special`). */
function looksSpecial(text: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(text) ||
    (text.startsWith('<|') && text.endsWith('|>')) ||
    (text.startsWith('<｜') && text.endsWith('｜>')) ||
    (text.startsWith('<unused') && text.endsWith('>'))
  );
}

/**
 * The `tokenizer.*` keys for a byte-level BPE tokenizer folder (tokenizer.json, tokenizer_config.json),
 * padded to `vocabSize` tokens as the converter pads. BOS falls back to EOS when the tokenizer has none
 * (as Qwen 2's config does), with add_bos false, so llama.cpp never uses its default id 11.
 */
export function tokenizerMetadata(tokenizerDir: string, vocabSize: number): Map<string, GgufValue> {
  const tokenizer = Tokenizer.fromFile(tokenizerDir);
  const file = join(tokenizerDir, 'tokenizer.json');
  if (tokenizer.llamaCppPre === null) {
    throw new FormatError(
      'unsupported',
      file,
      'pre_tokenizer',
      'no llama.cpp pre-tokenizer reproduces it, so llama.cpp would split text differently',
    );
  }
  if (tokenizer.vocabSize > vocabSize)
    throw new FormatError(
      'invalid',
      file,
      'model.vocab',
      `${tokenizer.vocabSize} tokens exceed the model's vocab_size ${vocabSize}`,
    );
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    added_tokens?: { id: number; special?: boolean }[];
    model: { merges?: (string | [string, string])[] };
  };
  const added = new Map((json.added_tokens ?? []).map((t) => [t.id, t.special === true]));
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const text = tokenizer.idToToken(id);
    if (text === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(TokenType.UNUSED);
    } else {
      tokens.push(text);
      const special = added.get(id);
      types.push(
        special === undefined
          ? TokenType.NORMAL
          : special || looksSpecial(text)
            ? TokenType.CONTROL
            : TokenType.USER_DEFINED,
      );
    }
  }
  const merges = (json.model.merges ?? []).map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));
  const eos = tokenizer.eosId;
  const bos = tokenizer.bosId ?? eos;
  const framing = tokenizer.encode('', { addSpecialTokens: true });
  const out = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(tokenizer.llamaCppPre)],
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', elementType: 'i32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', elementType: 'string', value: merges }],
  ]);
  if (bos !== null) out.set('tokenizer.ggml.bos_token_id', u32(bos));
  if (eos !== null) out.set('tokenizer.ggml.eos_token_id', u32(eos));
  const pad = specialId(tokenizer, 'pad_token') ?? eos;
  if (pad !== null) out.set('tokenizer.ggml.padding_token_id', u32(pad));
  const unk = specialId(tokenizer, 'unk_token');
  if (unk !== null) out.set('tokenizer.ggml.unknown_token_id', u32(unk));
  // What the tokenizer's post-processor adds around any text, as llama.cpp's add_bos / add_eos flags.
  const addBos = bos !== null && framing[0] === bos;
  const addEos = eos !== null && framing.length > (addBos ? 1 : 0) && framing[framing.length - 1] === eos;
  out.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos });
  out.set('tokenizer.ggml.add_eos_token', { type: 'bool', value: addEos });
  if (tokenizer.chatTemplate !== null) out.set('tokenizer.chat_template', str(tokenizer.chatTemplate));
  return out;
}

function specialId(tokenizer: Tokenizer, key: string): number | null {
  const v = tokenizer.config[key];
  const text = typeof v === 'string' ? v : (v as { content?: unknown } | null)?.content;
  return typeof text === 'string' ? (tokenizer.tokenToId(text) ?? null) : null;
}

export interface LlamaGgufExport {
  config: LlamaConfig;
  /** Hugging Face names → numpy-order shapes and values. */
  tensors: ReadonlyMap<string, HfTensor>;
  /** Folder of tokenizer.json (+ tokenizer_config.json). */
  tokenizerDir: string;
  dtype: GgufDtype;
  name?: string;
}

/** Writes a Llama model as a GGUF llama.cpp loads unchanged; tensors are converted one at a time. */
export function writeLlamaGguf(path: string, model: LlamaGgufExport): void {
  const { config, dtype } = model;
  const metadata = llamaMetadata(config, dtype, model.name ?? 'ownlm');
  for (const [key, value] of tokenizerMetadata(model.tokenizerDir, config.vocab_size))
    metadata.set(key, value);
  const tied = !model.tensors.has('lm_head.weight');
  const tensors: GgufTensorInput[] = [];
  for (const [hfName, tensor] of model.tensors) {
    const name = ggufTensorName(hfName);
    if (name === null)
      throw new RangeError(`gguf export: tensor ${hfName} has no place in the llama architecture`);
    if (tied && hfName === 'lm_head.weight') continue;
    const ne = [...tensor.shape].reverse();
    const type = exportType(name, ne, dtype, tied);
    const heads = rotaryHeads(hfName, config);
    const cols = tensor.shape.length === 2 ? tensor.shape[1] : 1;
    tensors.push({
      name,
      type,
      ne,
      data: () => encode(heads ? permuteRotaryRows(tensor.data, heads, cols) : tensor.data, type),
    });
  }
  writeGguf(path, metadata, tensors);
}

export interface LlamaGguf {
  header: GgufHeader;
  config: LlamaConfig;
  /** Hugging Face names → float32 tensors, rotate_half order restored. */
  tensors: Map<string, HfTensor>;
}

function integer(header: GgufHeader, key: string, fallback?: number): number {
  const v = header.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new FormatError('invalid', header.file, `key "${key}"`, 'is missing');
  }
  const n = typeof v.value === 'bigint' ? Number(v.value) : v.value;
  if (v.type === 'array' || typeof n !== 'number' || !Number.isInteger(n) || n <= 0)
    throw new FormatError('invalid', header.file, `key "${key}"`, `must be a positive integer`);
  return n;
}

function float(header: GgufHeader, key: string, fallback: number): number {
  const v = header.metadata.get(key);
  if (v === undefined) return fallback;
  if ((v.type !== 'f32' && v.type !== 'f64') || !((v.value as number) > 0))
    throw new FormatError('invalid', header.file, `key "${key}"`, 'must be a positive float');
  return v.type === 'f32' ? shortestF32(v.value as number) : (v.value as number);
}

/** The shortest decimal that rounds to this float32 (1e-5, not 9.999999747378752e-6), as numpy prints it. */
function shortestF32(x: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(x.toPrecision(digits));
    if (Math.fround(candidate) === x) return candidate;
  }
  return x;
}

/** The strings of an array key, or null when absent. */
export function stringArray(header: GgufHeader, key: string): string[] | null {
  const v = header.metadata.get(key);
  if (v === undefined) return null;
  if (v.type !== 'array' || v.elementType !== 'string')
    throw new FormatError('invalid', header.file, `key "${key}"`, 'must be an array of strings');
  return v.value as string[];
}

export function scalar(header: GgufHeader, key: string): GgufScalar | undefined {
  const v = header.metadata.get(key);
  return v && v.type !== 'array' ? v.value : undefined;
}

/**
 * The Hugging Face config of a `llama` GGUF from its header alone. Features the engine lacks (RoPE scaling,
 * partial rotary dimensions) are refused rather than silently computed differently.
 */
export function llamaGgufConfig(header: GgufHeader): LlamaConfig {
  const fail = (field: string, detail: string, code: 'invalid' | 'unsupported' = 'invalid') =>
    new FormatError(code, header.file, field, detail);
  const arch = scalar(header, 'general.architecture');
  if (arch !== 'llama')
    throw fail(
      'key "general.architecture"',
      `${quoteValue(arch)} is not supported (only "llama" is)`,
      'unsupported',
    );
  for (const key of ['llama.rope.scaling.type', 'llama.rope.scaling.factor']) {
    const v = scalar(header, key);
    if (v !== undefined && v !== 'none' && v !== 1)
      throw fail(`key "${key}"`, 'RoPE scaling is not supported by the engine', 'unsupported');
  }
  const heads = integer(header, 'llama.attention.head_count');
  const hidden = integer(header, 'llama.embedding_length');
  const headDim = integer(header, 'llama.attention.key_length', Math.floor(hidden / heads));
  if (integer(header, 'llama.rope.dimension_count', headDim) !== headDim)
    throw fail(
      'key "llama.rope.dimension_count"',
      'partial rotary embeddings are not supported by the engine',
      'unsupported',
    );
  const tokens = stringArray(header, 'tokenizer.ggml.tokens');
  const names = new Set(header.tensors.map((t) => t.name));
  // Each layer has 9 tensors: a count the file cannot hold is refused before shapes are listed for it.
  const layers = integer(header, 'llama.block_count');
  if (layers * 9 > header.tensors.length)
    throw fail(
      'key "llama.block_count"',
      `${layers} layers need more tensors than the ${header.tensors.length} in the file`,
    );
  const hyperparameters = {
    vocab_size: tokens?.length ?? integer(header, 'llama.vocab_size'),
    hidden_size: hidden,
    intermediate_size: integer(header, 'llama.feed_forward_length'),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: integer(header, 'llama.attention.head_count_kv', heads),
    head_dim: headDim,
    rms_norm_eps: float(header, 'llama.attention.layer_norm_rms_epsilon', 1e-5),
    rope_theta: float(header, 'llama.rope.freq_base', 10000),
    max_position_embeddings: integer(header, 'llama.context_length'),
    tie_word_embeddings: !names.has('output.weight'),
    attention_bias: names.has('blk.0.attn_q.bias'),
  };
  // The engine asserts its invariants (heads a multiple of KV heads, an even head_dim); from a file they are
  // a FormatError.
  try {
    return llamaConfig(hyperparameters);
  } catch (error) {
    throw fail('key "llama.*"', (error as Error).message);
  }
}

/**
 * Reads a `llama` GGUF into Hugging Face names and config keys. Every tensor must belong to the architecture
 * and have the shape the hyperparameters give.
 */
export function readLlamaGguf(path: string): LlamaGguf {
  const header = readGgufHeader(path);
  const fail = (field: string, detail: string, code: 'invalid' | 'unsupported' = 'invalid') =>
    new FormatError(code, header.file, field, detail);
  const config = llamaGgufConfig(header);
  const expected = expectedShapes(config);
  const bytes = readGgufTensorBytes(header);
  const tensors = new Map<string, HfTensor>();
  for (const info of header.tensors) {
    const hfName = hfTensorName(info.name);
    const shape = hfName === null ? undefined : expected.get(hfName);
    if (hfName === null || shape === undefined)
      throw fail(`tensor "${info.name}"`, 'is not part of this llama model', 'unsupported');
    const ne = [...shape].reverse();
    if (info.ne.length !== ne.length || info.ne.some((d, i) => d !== ne[i]))
      throw fail(
        `tensor "${info.name}"`,
        `has ne [${info.ne}], expected [${ne}] (${GGML_TYPES[info.type].name})`,
      );
    let data = dequantizeTensor(info, bytes.get(info.name)!, header.file);
    bytes.delete(info.name);
    const rotary = rotaryHeads(hfName, config);
    if (rotary) data = permuteRotaryRows(data, rotary, shape.length === 2 ? shape[1] : 1, true);
    tensors.set(hfName, { shape, data });
  }
  for (const name of expected.keys())
    if (!tensors.has(name)) throw fail(`tensor "${ggufTensorName(name)}"`, 'is missing');
  return { header, config, tensors };
}

/** numpy-order shapes of every tensor of a Llama model (lm_head only when untied). */
export function expectedShapes(config: LlamaConfig): Map<string, number[]> {
  const { vocab_size: v, hidden_size: h, intermediate_size: f, head_dim: d } = config;
  const q = config.num_attention_heads * d;
  const kv = config.num_key_value_heads * d;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [v, h]]]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [h]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [q, h]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kv, h]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kv, h]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [h, q]);
    if (config.attention_bias) {
      shapes.set(`${p}.self_attn.q_proj.bias`, [q]);
      shapes.set(`${p}.self_attn.k_proj.bias`, [kv]);
      shapes.set(`${p}.self_attn.v_proj.bias`, [kv]);
      shapes.set(`${p}.self_attn.o_proj.bias`, [h]);
    }
    shapes.set(`${p}.post_attention_layernorm.weight`, [h]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [f, h]);
    shapes.set(`${p}.mlp.up_proj.weight`, [f, h]);
    shapes.set(`${p}.mlp.down_proj.weight`, [h, f]);
  }
  shapes.set('model.norm.weight', [h]);
  if (!config.tie_word_embeddings) shapes.set('lm_head.weight', [v, h]);
  return shapes;
}
