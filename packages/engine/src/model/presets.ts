// Named model sizes used by the benchmarks and the trainer, with the batch and context they are measured at.
import type { LlamaConfigInput } from './config.ts';

export interface ModelPreset {
  config: LlamaConfigInput;
  batch: number;
  context: number;
}

export const modelPresets = {
  tiny: {
    config: {
      vocab_size: 4096,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 6,
      num_attention_heads: 8,
      max_position_embeddings: 256,
    },
    batch: 16,
    context: 256,
  },
  small: {
    config: {
      vocab_size: 8192,
      hidden_size: 512,
      intermediate_size: 1376,
      num_hidden_layers: 8,
      num_attention_heads: 8,
      max_position_embeddings: 512,
    },
    batch: 8,
    context: 512,
  },
  /** GPT-2-small-sized. */
  base: {
    config: {
      vocab_size: 32000,
      hidden_size: 768,
      intermediate_size: 2048,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      max_position_embeddings: 256,
    },
    batch: 4,
    context: 256,
  },
} satisfies Record<string, ModelPreset>;

export type ModelPresetName = keyof typeof modelPresets;
