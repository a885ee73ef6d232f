// @ownlm/engine: tensors and autograd, kernels (native + reference), the Llama model, optimizers, generation.
export { Tensor, noGrad, isGradEnabled, clearTape, shapeSize, type Shape } from './tensor.ts';
export { backend, useBackend, createReferenceBackend, loadNativeBackend } from './backend/index.ts';
export type { Backend, GemmParams, AttentionShape } from './backend/index.ts';
export { memoryStats, resetPeakMemory, trimPool, type MemoryStats } from './memory.ts';
export { Random, type RandomState } from './random.ts';

export { matmul, linear, type MatmulOptions } from './ops/matmul.ts';
export { add, mul, scale, sum, mean } from './ops/elementwise.ts';
export { embedding, type TokenIds } from './ops/embedding.ts';
export { rmsnorm } from './ops/rmsnorm.ts';
export { rope, ropeTables, type RopeTables, type RopeLayout } from './ops/rope.ts';
export { causalAttention } from './ops/attention.ts';
export { swiglu } from './ops/swiglu.ts';
export { crossEntropy, sequenceLogProbs, IGNORE_INDEX } from './ops/cross-entropy.ts';
export { dpoLoss } from './ops/dpo-loss.ts';
export { dropout } from './ops/dropout.ts';

export {
  llamaConfig,
  parameterCount,
  trainingFlopsPerToken,
  type LlamaConfig,
  type LlamaConfigInput,
} from './model/config.ts';
export { LlamaModel, type LlamaModelOptions, type ForwardOptions } from './model/llama.ts';
export { KVCache } from './model/kv-cache.ts';
export {
  LoraAdapter,
  LORA_TARGETS,
  loraKey,
  loraModulePath,
  projectionShape,
  type LoraOptions,
  type LoraTarget,
} from './model/lora.ts';
export { modelPresets, type ModelPreset, type ModelPresetName } from './model/presets.ts';

export { AdamW, type AdamWOptions, type AdamWState, type ParameterGroup } from './optim/adamw.ts';
export { clipGradNorm } from './optim/clip.ts';
export { learningRate, type Schedule } from './optim/schedule.ts';

export { generate, generateTokens, type GenerateOptions } from './generate/generate.ts';
export { sampleToken, argmax, validateSampling, type SamplingOptions } from './generate/sampling.ts';
