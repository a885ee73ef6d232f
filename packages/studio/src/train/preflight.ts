// Before a run starts: how much memory a training step will need and about how long it will take, so a run
// that cannot fit is refused with a suggestion instead of being killed by the OS an hour in.
import { freemem, totalmem } from 'node:os';
import {
  backend,
  llamaConfig,
  parameterCount,
  trainingFlopsPerToken,
  type LlamaConfigInput,
} from '@ownlm/engine';

export interface Preflight {
  parameters: number;
  /** Weights, gradients and AdamW's two moments: 16 bytes per parameter. */
  stateBytes: number;
  /** Activations kept for backward during one micro-batch, plus the logits. */
  activationBytes: number;
  totalBytes: number;
  availableBytes: number;
  fits: boolean;
  flopsPerStep: number;
  /** Measured matrix-multiply rate of this machine now, discounted for the rest of a step. */
  estimatedSecondsPerStep: number;
}

/**
 * Float32 values saved per token per layer by the engine's ops: the residual stream and two norm outputs,
 * q/k/v before and after rotation, attention and projection outputs, gate/up/SwiGLU (see model/llama.ts).
 */
function activationFloatsPerToken(c: ReturnType<typeof llamaConfig>): number {
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const perLayer = 6 * c.hidden_size + 3 * q + 4 * kv + 3 * c.intermediate_size;
  // Logits and their gradient share a buffer; the embedding output and final norm add two rows of hidden.
  return c.num_hidden_layers * perLayer + c.vocab_size + 2 * c.hidden_size;
}

/** Sustained GFLOP/s of a 512³ product on the current backend, a stand-in for the step's big matmuls. */
function measureGflops(): number {
  const n = 512;
  const a = new Float32Array(n * n).fill(0.5);
  const c = new Float32Array(n * n);
  const run = () =>
    backend().gemm({
      transA: false,
      transB: true,
      m: n,
      n,
      k: n,
      alpha: 1,
      a,
      lda: n,
      b: a,
      ldb: n,
      beta: 0,
      c,
      ldc: n,
    });
  run();
  const start = performance.now();
  let runs = 0;
  while (performance.now() - start < 150) {
    run();
    runs++;
  }
  return (2 * n * n * n * runs) / ((performance.now() - start) / 1000) / 1e9;
}

export function preflight(
  model: LlamaConfigInput,
  batch: number,
  context: number,
  accumulation: number,
): Preflight {
  const config = llamaConfig(model);
  const parameters = parameterCount(config);
  const stateBytes = 16 * parameters;
  const activationBytes = 4 * batch * context * activationFloatsPerToken(config);
  // The pool keeps freed buffers for reuse; allow a quarter more for scratch and fragmentation.
  const totalBytes = Math.ceil((stateBytes + activationBytes) * 1.25);
  const availableBytes = Math.max(freemem(), totalmem() * 0.8);
  const flopsPerStep = trainingFlopsPerToken(config, context) * batch * context * accumulation;
  // A whole step reaches about half the big-GEMM rate (attention, norms and the optimizer run slower).
  const estimatedSecondsPerStep = flopsPerStep / (measureGflops() * 0.5 * 1e9);
  return {
    parameters,
    stateBytes,
    activationBytes,
    totalBytes,
    availableBytes,
    fits: totalBytes <= availableBytes,
    flopsPerStep,
    estimatedSecondsPerStep,
  };
}

/** The largest batch size whose step fits in `availableBytes` at this context (0 if none). */
export function largestFittingBatch(
  model: LlamaConfigInput,
  context: number,
  availableBytes: number,
): number {
  const config = llamaConfig(model);
  const perSequence = 4 * context * activationFloatsPerToken(config) * 1.25;
  const fixed = 16 * parameterCount(config) * 1.25;
  return Math.max(0, Math.floor((availableBytes - fixed) / perSequence));
}
