// Hugging Face model folders for Llama-family models (docs/FORMATS.md#hugging-face-model-config): config.json
// (LlamaForCausalLM with the legacy rope_theta / rope_scaling keys every reader understands),
// model.safetensors or shards with their index, generation_config.json and the tokenizer files. The same
// layout is what `ownlm import` produces and what a training checkpoint holds, so one reader serves all three.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { llamaConfig, type LlamaConfig } from '@ownlm/engine';
import { abandonOutput, finishOutput, startOutput } from '../tokenizer/publish.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { FormatError, quoteValue } from './errors.ts';
import { expectedShapes, type HfTensor } from './gguf-llama.ts';
import {
  readSafetensorsShards,
  writeSafetensorsShards,
  DEFAULT_MAX_SHARD_BYTES,
} from './safetensors-shards.ts';
import type { SafetensorsDtype } from './safetensors.ts';

export type HfDtype = 'f32' | 'f16' | 'bf16';
export const HF_DTYPES: readonly HfDtype[] = ['f32', 'f16', 'bf16'];
const SAFETENSORS_DTYPE: Record<HfDtype, SafetensorsDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const TORCH_DTYPE: Record<HfDtype, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/** Files copied from a tokenizer folder into a model folder, when present. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'chat_template.jinja',
  'special_tokens_map.json',
];

/** Architectures read as Llama: the same tensors and computation (Mistral without a sliding window). */
const LLAMA_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM'];

/** Keys written with `json.dumps(indent=2, sort_keys=True)`'s layout, as transformers writes its JSON. */
export function sortedJson(value: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** config.json for a Llama model; bos falls back to eos for tokenizers without a BOS (as Qwen 2 does). */
export function hfConfigJson(
  config: LlamaConfig,
  tokenizer: Tokenizer,
  dtype: HfDtype,
): Record<string, unknown> {
  const eos = tokenizer.eosId;
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: config.attention_bias,
    attention_dropout: 0,
    bos_token_id: tokenizer.bosId ?? eos,
    eos_token_id: eos,
    head_dim: config.head_dim,
    hidden_act: 'silu',
    hidden_size: config.hidden_size,
    initializer_range: 0.02,
    intermediate_size: config.intermediate_size,
    max_position_embeddings: config.max_position_embeddings,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: config.num_attention_heads,
    num_hidden_layers: config.num_hidden_layers,
    num_key_value_heads: config.num_key_value_heads,
    pretraining_tp: 1,
    rms_norm_eps: config.rms_norm_eps,
    rope_scaling: null,
    rope_theta: config.rope_theta,
    tie_word_embeddings: config.tie_word_embeddings,
    torch_dtype: TORCH_DTYPE[dtype],
    use_cache: true,
    vocab_size: config.vocab_size,
  };
}

function readJson(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new FormatError('invalid', path, '', `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FormatError('invalid', path, '', 'must hold a JSON object');
  return value as Record<string, unknown>;
}

/**
 * A LlamaConfig from a Hugging Face config.json object, refusing what the engine would compute differently
 * (another architecture, RoPE scaling, an activation other than SiLU, MLP biases, a sliding window).
 */
export function parseHfConfig(json: Record<string, unknown>, file: string): LlamaConfig {
  const unsupported = (field: string, detail: string) => new FormatError('unsupported', file, field, detail);
  const architecture = Array.isArray(json.architectures) ? json.architectures[0] : undefined;
  if (
    architecture !== undefined
      ? !LLAMA_ARCHITECTURES.includes(architecture as string)
      : !['llama', 'mistral'].includes(json.model_type as string)
  )
    throw unsupported(
      'architectures',
      `${quoteValue(architecture ?? json.model_type)} is not a Llama-family model (${LLAMA_ARCHITECTURES.join(', ')})`,
    );
  if (json.hidden_act !== undefined && json.hidden_act !== 'silu')
    throw unsupported('hidden_act', `${quoteValue(json.hidden_act)} (only silu is supported)`);
  if (json.mlp_bias === true) throw unsupported('mlp_bias', 'MLP biases are not supported');
  if (
    typeof json.sliding_window === 'number' &&
    json.sliding_window < (json.max_position_embeddings as number)
  )
    throw unsupported('sliding_window', 'sliding-window attention is not supported');
  // transformers v5 folds theta and scaling into rope_parameters; v4 uses rope_theta and rope_scaling.
  const ropeParameters = (json.rope_parameters ?? null) as Record<string, unknown> | null;
  const scaling = (json.rope_scaling ?? ropeParameters) as Record<string, unknown> | null;
  const ropeType = scaling?.rope_type ?? scaling?.type;
  if (scaling !== null && ropeType !== undefined && ropeType !== 'default')
    throw unsupported(
      json.rope_scaling ? 'rope_scaling' : 'rope_parameters',
      `RoPE scaling ${quoteValue(ropeType)} is not supported`,
    );
  const optional = (key: string) => (json[key] === null ? undefined : json[key]);
  const input: Record<string, unknown> = {
    vocab_size: json.vocab_size,
    hidden_size: json.hidden_size,
    intermediate_size: json.intermediate_size,
    num_hidden_layers: json.num_hidden_layers,
    num_attention_heads: json.num_attention_heads,
    num_key_value_heads: optional('num_key_value_heads'),
    head_dim: optional('head_dim'),
    rms_norm_eps: optional('rms_norm_eps'),
    rope_theta: json.rope_theta ?? ropeParameters?.rope_theta ?? undefined,
    max_position_embeddings: optional('max_position_embeddings'),
    tie_word_embeddings: optional('tie_word_embeddings'),
    attention_bias: optional('attention_bias'),
  };
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
  for (const key of ['tie_word_embeddings', 'attention_bias'])
    if (key in input && typeof input[key] !== 'boolean')
      throw new FormatError('invalid', file, key, 'must be true or false');
  for (const key of ['rms_norm_eps', 'rope_theta'])
    if (key in input && typeof input[key] !== 'number')
      throw new FormatError('invalid', file, key, 'must be a number');
  try {
    return llamaConfig(input as unknown as Parameters<typeof llamaConfig>[0]);
  } catch (error) {
    throw new FormatError('invalid', file, '', (error as Error).message.replace(/^model config: /, ''));
  }
}

/** The model config of a folder: config.json, or the modelConfig of a training checkpoint's trainer-state.json. */
export function readModelConfig(dir: string): LlamaConfig {
  const configFile = join(dir, 'config.json');
  if (existsSync(configFile)) return parseHfConfig(readJson(configFile), configFile);
  const stateFile = join(dir, 'trainer-state.json');
  if (existsSync(stateFile)) {
    const state = readJson(stateFile);
    if (typeof state.modelConfig !== 'object' || state.modelConfig === null)
      throw new FormatError('invalid', stateFile, 'modelConfig', 'is missing');
    try {
      return llamaConfig(state.modelConfig as Parameters<typeof llamaConfig>[0]);
    } catch (error) {
      throw new FormatError('invalid', stateFile, 'modelConfig', (error as Error).message);
    }
  }
  throw new FormatError('not-found', dir, '', 'no config.json (nor trainer-state.json): not a model folder');
}

/**
 * Reads the weights of a model folder as float32 under Hugging Face names, checked against the config: every
 * tensor present with its shape, nothing foreign. A tied model's stray lm_head is dropped (transformers ties
 * it) and rotary inv_freq buffers of old checkpoints are ignored.
 */
export function readHfWeights(dir: string, config: LlamaConfig): Map<string, HfTensor> {
  const expected = expectedShapes(config);
  const stored = readSafetensorsShards(dir);
  const tensors = new Map<string, HfTensor>();
  for (const [name, tensor] of stored) {
    const file = tensor.file;
    const shape = expected.get(name);
    if (shape === undefined) {
      if (name.endsWith('rotary_emb.inv_freq') || (name === 'lm_head.weight' && config.tie_word_embeddings))
        continue;
      throw new FormatError(
        'unsupported',
        file,
        `tensor "${name}"`,
        'is not part of a Llama model with this config.json',
      );
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i]))
      throw new FormatError(
        'invalid',
        file,
        `tensor "${name}"`,
        `has shape [${tensor.shape}], config.json gives [${shape}]`,
      );
    tensors.set(name, { shape, data: tensor.toFloat32() });
  }
  for (const name of expected.keys())
    if (!tensors.has(name))
      throw new FormatError('invalid', dir, `tensor "${name}"`, 'is missing from the weights');
  return tensors;
}

export interface WriteHfFolderOptions {
  config: LlamaConfig;
  /** Hugging Face names → tensors, in the order to store them. */
  tensors: ReadonlyMap<string, HfTensor>;
  /** Folder whose tokenizer files are copied. */
  tokenizerDir: string;
  dtype?: HfDtype;
  /** Shard above this many tensor bytes (default 5 GB, as transformers). */
  maxShardBytes?: number;
  /** Replace a non-empty outDir. */
  overwrite?: boolean;
}

/** Writes a complete Hugging Face model folder; it appears whole or not at all. */
export function writeHfFolder(outDir: string, options: WriteHfFolderOptions): void {
  const dtype = options.dtype ?? 'f32';
  const tokenizer = Tokenizer.fromFile(options.tokenizerDir);
  const temp = startOutput(outDir, options.overwrite ?? false);
  try {
    writeSafetensorsShards(
      temp,
      [...options.tensors].map(([name, t]) => ({
        name,
        dtype: SAFETENSORS_DTYPE[dtype],
        shape: t.shape,
        data: t.data,
      })),
      { maxShardBytes: options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES },
    );
    const config = hfConfigJson(options.config, tokenizer, dtype);
    writeFileSync(join(temp, 'config.json'), sortedJson(config));
    const generation: Record<string, unknown> = {
      _from_model_config: true,
      bos_token_id: config.bos_token_id,
      eos_token_id: config.eos_token_id,
    };
    writeFileSync(join(temp, 'generation_config.json'), sortedJson(generation));
    for (const name of TOKENIZER_FILES) {
      const source = join(options.tokenizerDir, name);
      if (existsSync(source)) copyFileSync(source, join(temp, name));
    }
    finishOutput(temp, outDir);
  } catch (error) {
    abandonOutput(temp);
    throw error;
  }
}
