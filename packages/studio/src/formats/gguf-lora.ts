// LoRA adapters as GGUF files llama.cpp applies at run time (docs/FORMATS.md#gguf-lora-adapters, read by
// `llama_adapter_lora_init`): general.type = adapter on the base's architecture, adapter.lora.alpha as f32,
// and for each adapted weight `<base GGUF name>.lora_a` / `.lora_b` holding PEFT's A [r, in] and B [out, r]
// unchanged (dims reversed as for every GGUF tensor), except that B of q and k gets the same row permutation
// as the base's q and k weights, since llama.cpp applies B·A·x to the permuted projection.
import { loraKey, loraModulePath, projectionShape, type LlamaConfig } from '@ownlm/engine';
import { GgmlType, writeGguf, type GgufTensorInput, type GgufValue } from './gguf.ts';
import { ggufTensorName, permuteRotaryRows } from './gguf-llama.ts';
import type { LoraWeights } from './peft-adapter.ts';

const f32Bytes = (values: Float32Array) =>
  new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/**
 * The adapter's keys. llama.cpp scales by alpha / r and ignores rsLoRA, so rsLoRA's alpha / √r is written as
 * alpha' = alpha·√r (alpha' / r = alpha / √r).
 */
export function ggufLoraMetadata(options: LoraWeights['options'], name: string): Map<string, GgufValue> {
  const alpha = options.rslora ? options.alpha * Math.sqrt(options.rank) : options.alpha;
  return new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['general.name', { type: 'string', value: name }],
    ['adapter.type', { type: 'string', value: 'lora' }],
    ['adapter.lora.alpha', { type: 'f32', value: alpha }],
  ]);
}

/** Writes a LoRA adapter (PEFT-keyed tensors) for a Llama base with this config as an F32 GGUF adapter. */
export function writeGgufLoraAdapter(
  path: string,
  adapter: LoraWeights,
  config: LlamaConfig,
  options: { name?: string } = {},
): void {
  const { rank, targets } = adapter.options;
  const tensors: GgufTensorInput[] = [];
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    for (const target of targets) {
      const base = ggufTensorName(`model.layers.${layer}.${loraModulePath(target)}.weight`)!;
      const [out, inFeatures] = projectionShape(config, target);
      const a = adapter.parameters.get(loraKey(layer, target, 'lora_A'));
      const b = adapter.parameters.get(loraKey(layer, target, 'lora_B'));
      if (!a || !b || `${a.shape}` !== `${rank},${inFeatures}` || `${b.shape}` !== `${out},${rank}`) {
        throw new RangeError(
          `gguf lora export: layer ${layer} ${target} needs A [${rank}, ${inFeatures}] and B [${out}, ${rank}]`,
        );
      }
      const heads =
        target === 'q_proj'
          ? config.num_attention_heads
          : target === 'k_proj'
            ? config.num_key_value_heads
            : 0;
      tensors.push({
        name: `${base}.lora_a`,
        type: GgmlType.F32,
        ne: [inFeatures, rank],
        data: f32Bytes(a.data),
      });
      tensors.push({
        name: `${base}.lora_b`,
        type: GgmlType.F32,
        ne: [rank, out],
        data: () => f32Bytes(heads ? permuteRotaryRows(b.data, heads, rank) : b.data),
      });
    }
  }
  writeGguf(path, ggufLoraMetadata(adapter.options, options.name ?? 'ownlm-lora'), tensors);
}
