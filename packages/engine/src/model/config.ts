// Llama-family model configuration, using the Hugging Face `LlamaConfig` key names so a config.json from the
// Hub reads directly and ours writes directly.

export interface LlamaConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** Grouped-query attention when smaller than num_attention_heads. */
  num_key_value_heads: number;
  /** Usually hidden_size / num_attention_heads. */
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  /** The output projection shares the token embedding matrix. */
  tie_word_embeddings: boolean;
  /** Biases on the q, k, v and o projections. */
  attention_bias: boolean;
}

export type LlamaConfigInput = Pick<
  LlamaConfig,
  'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads'
> &
  Partial<LlamaConfig>;

const integerKeys = [
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'max_position_embeddings',
] as const;

/** Fills Hugging Face defaults and validates; errors name the offending key. */
export function llamaConfig(input: LlamaConfigInput): LlamaConfig {
  const config: LlamaConfig = {
    num_key_value_heads: input.num_attention_heads,
    head_dim: Math.floor(input.hidden_size / input.num_attention_heads),
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: 2048,
    tie_word_embeddings: false,
    attention_bias: false,
    ...input,
  };
  for (const key of integerKeys) {
    const value = config[key];
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`model config: ${key} must be a positive integer, got ${value}`);
  }
  if (config.num_attention_heads % config.num_key_value_heads !== 0) {
    throw new Error(
      `model config: num_attention_heads (${config.num_attention_heads}) must be a multiple of num_key_value_heads (${config.num_key_value_heads})`,
    );
  }
  if (config.head_dim % 2 !== 0)
    throw new Error(`model config: head_dim must be even for rotary embeddings, got ${config.head_dim}`);
  if (!(config.rms_norm_eps > 0))
    throw new Error(`model config: rms_norm_eps must be positive, got ${config.rms_norm_eps}`);
  if (!(config.rope_theta > 0))
    throw new Error(`model config: rope_theta must be positive, got ${config.rope_theta}`);
  return config;
}

/** Number of parameters, counting a tied embedding once. */
export function parameterCount(config: LlamaConfig): number {
  const { vocab_size: v, hidden_size: h, intermediate_size: f, num_hidden_layers: l, head_dim: d } = config;
  const q = config.num_attention_heads * d;
  const kv = config.num_key_value_heads * d;
  const attention = h * q + 2 * h * kv + q * h + (config.attention_bias ? q + 2 * kv + h : 0);
  const mlp = 3 * h * f;
  const perLayer = attention + mlp + 2 * h;
  return v * h + l * perLayer + h + (config.tie_word_embeddings ? 0 : v * h);
}

/**
 * Training FLOPs per token (forward + backward) at a sequence length: 6 per weight of every matrix multiply
 * (the lm head included, the embedding lookup not) plus causal attention, whose two products (QKᵀ and PV)
 * take seq/2 · heads·head_dim multiply-adds each per token on average (half of the full T×T), counted the same way.
 */
export function trainingFlopsPerToken(config: LlamaConfig, seq: number): number {
  const { vocab_size: v, hidden_size: h, intermediate_size: f, num_hidden_layers: l, head_dim: d } = config;
  const q = config.num_attention_heads * d;
  const kv = config.num_key_value_heads * d;
  const matmulWeights = l * (h * q + 2 * h * kv + q * h + 3 * h * f) + v * h;
  const attention = l * seq * q;
  return 6 * matmulWeights + 6 * attention;
}
