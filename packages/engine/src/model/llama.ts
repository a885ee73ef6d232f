// A Llama-family decoder (Llama 2/3, Mistral-style GQA, SmolLM, TinyLlama): token embedding, N blocks of
// pre-norm attention and SwiGLU MLP with residuals, a final RMSNorm and the output projection. Parameter
// names are the Hugging Face checkpoint keys, so safetensors files map one to one.
import { causalAttention } from '../ops/attention.ts';
import { crossEntropy, IGNORE_INDEX, sequenceLogProbs } from '../ops/cross-entropy.ts';
import { dropout } from '../ops/dropout.ts';
import { add } from '../ops/elementwise.ts';
import { embedding, type TokenIds } from '../ops/embedding.ts';
import { linear } from '../ops/matmul.ts';
import { rmsnorm } from '../ops/rmsnorm.ts';
import { rope, ropeTables, type RopeTables } from '../ops/rope.ts';
import { swiglu } from '../ops/swiglu.ts';
import { Random } from '../random.ts';
import { Tensor, noGrad } from '../tensor.ts';
import { llamaConfig, type LlamaConfig, type LlamaConfigInput } from './config.ts';
import { KVCache } from './kv-cache.ts';
import { LoraAdapter, type LoraOptions, type LoraTarget } from './lora.ts';

export interface LlamaModelOptions {
  /** Seed of the weight initialization. */
  seed?: number;
  /** Residual dropout after attention and MLP during training (0 = off, the Llama default). */
  dropout?: number;
}

export interface ForwardOptions {
  batch: number;
  seq: number;
  /** Continue from this cache (batch 1): new keys/values are appended and attention sees the cached ones. */
  cache?: KVCache;
  /** Compute logits only for the last position of each sequence (generation). */
  lastOnly?: boolean;
  /** Seeded generator for dropout; dropout is active only when given and the model's rate is > 0. */
  random?: Random;
}

interface LayerWeights {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  qBias?: Tensor;
  kBias?: Tensor;
  vBias?: Tensor;
  oBias?: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** The layer weight each LoRA target adapts. */
const PROJECTIONS: Record<LoraTarget, 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down'> = {
  q_proj: 'q',
  k_proj: 'k',
  v_proj: 'v',
  o_proj: 'o',
  gate_proj: 'gate',
  up_proj: 'up',
  down_proj: 'down',
};

export class LlamaModel {
  readonly config: LlamaConfig;
  /** Every trainable tensor by its Hugging Face checkpoint key, in a stable order. */
  readonly parameters = new Map<string, Tensor>();
  private readonly layers: LayerWeights[] = [];
  private readonly embedTokens: Tensor;
  private readonly finalNorm: Tensor;
  private readonly lmHead: Tensor;
  private readonly rope: RopeTables;
  private readonly dropoutRate: number;
  private adapter: LoraAdapter | null = null;

  constructor(configInput: LlamaConfigInput, options: LlamaModelOptions = {}) {
    const config = llamaConfig(configInput);
    this.config = config;
    this.dropoutRate = options.dropout ?? 0;
    const random = new Random(options.seed ?? 0);
    const { vocab_size: v, hidden_size: h, intermediate_size: f, head_dim: d } = config;
    const q = config.num_attention_heads * d;
    const kv = config.num_key_value_heads * d;
    // GPT-2/nanoGPT initialization: N(0, 0.02), residual projections scaled by 1/sqrt(2·layers).
    const std = 0.02;
    const residualStd = std / Math.sqrt(2 * config.num_hidden_layers);
    const normal = (name: string, shape: number[], s = std) =>
      this.add(name, random.fillNormal(new Float32Array(shape[0] * (shape[1] ?? 1)), s), shape);
    const ones = (name: string, n: number) => this.add(name, new Float32Array(n).fill(1), [n]);
    const zeros = (name: string, n: number) => this.add(name, new Float32Array(n), [n]);

    this.embedTokens = normal('model.embed_tokens.weight', [v, h]);
    for (let i = 0; i < config.num_hidden_layers; i++) {
      const p = `model.layers.${i}`;
      const layer: LayerWeights = {
        inputNorm: ones(`${p}.input_layernorm.weight`, h),
        q: normal(`${p}.self_attn.q_proj.weight`, [q, h]),
        k: normal(`${p}.self_attn.k_proj.weight`, [kv, h]),
        v: normal(`${p}.self_attn.v_proj.weight`, [kv, h]),
        o: normal(`${p}.self_attn.o_proj.weight`, [h, q], residualStd),
        postNorm: ones(`${p}.post_attention_layernorm.weight`, h),
        gate: normal(`${p}.mlp.gate_proj.weight`, [f, h]),
        up: normal(`${p}.mlp.up_proj.weight`, [f, h]),
        down: normal(`${p}.mlp.down_proj.weight`, [h, f], residualStd),
      };
      if (config.attention_bias) {
        layer.qBias = zeros(`${p}.self_attn.q_proj.bias`, q);
        layer.kBias = zeros(`${p}.self_attn.k_proj.bias`, kv);
        layer.vBias = zeros(`${p}.self_attn.v_proj.bias`, kv);
        layer.oBias = zeros(`${p}.self_attn.o_proj.bias`, h);
      }
      this.layers.push(layer);
    }
    this.finalNorm = ones('model.norm.weight', h);
    this.lmHead = config.tie_word_embeddings ? this.embedTokens : normal('lm_head.weight', [v, h]);
    this.rope = ropeTables(d, config.max_position_embeddings, config.rope_theta);
  }

  private add(name: string, data: Float32Array, shape: number[]): Tensor {
    const t = new Tensor(data, shape, { requiresGrad: true, name });
    this.parameters.set(name, t);
    return t;
  }

  /** Logits [batch·seq, vocab] (or [batch, vocab] with lastOnly) for token ids laid out [batch, seq]. */
  forward(ids: TokenIds, options: ForwardOptions): Tensor {
    const { batch, seq, cache } = options;
    const c = this.config;
    if (ids.length !== batch * seq)
      throw new Error(`forward: ${ids.length} token ids for batch ${batch} × seq ${seq}`);
    if (cache && batch !== 1) throw new Error('forward: the KV cache holds one sequence (batch 1)');
    const past = cache?.length ?? 0;
    if (past + seq > c.max_position_embeddings) {
      throw new Error(
        `forward: ${past + seq} positions exceed max_position_embeddings (${c.max_position_embeddings})`,
      );
    }
    const { head_dim: d, num_attention_heads: headsQ, num_key_value_heads: headsKV } = c;
    const residualDropout = (x: Tensor) =>
      options.random && this.dropoutRate > 0 ? dropout(x, this.dropoutRate, options.random) : x;

    let hidden = embedding(this.embedTokens, ids); // [batch·seq, hidden]
    this.layers.forEach((w, layerIndex) => {
      const x = rmsnorm(hidden, w.inputNorm, c.rms_norm_eps);
      let q = this.project(layerIndex, 'q_proj', x, options.random); // [batch·seq, headsQ·d]
      let k = this.project(layerIndex, 'k_proj', x, options.random); // [batch·seq, headsKV·d]
      let v = this.project(layerIndex, 'v_proj', x, options.random);
      if (w.qBias) q = add(q, w.qBias);
      if (w.kBias) k = add(k, w.kBias);
      if (w.vBias) v = add(v, w.vBias);
      q = rope(q, this.rope, { batch, seq, heads: headsQ, positionOffset: past });
      k = rope(k, this.rope, { batch, seq, heads: headsKV, positionOffset: past });
      if (cache) [k, v] = cache.append(layerIndex, k, v); // [past + seq, headsKV·d]
      const attended = causalAttention(q, k, v, {
        batch,
        seqQ: seq,
        seqK: past + seq,
        headsQ,
        headsKV,
        headDim: d,
        scale: 1 / Math.sqrt(d),
        queryOffset: past,
      }); // [batch·seq, headsQ·d]
      let projected = this.project(layerIndex, 'o_proj', attended, options.random); // [batch·seq, hidden]
      if (w.oBias) projected = add(projected, w.oBias);
      hidden = add(hidden, residualDropout(projected));

      const y = rmsnorm(hidden, w.postNorm, c.rms_norm_eps);
      const gate = this.project(layerIndex, 'gate_proj', y, options.random);
      const up = this.project(layerIndex, 'up_proj', y, options.random);
      const gated = swiglu(gate, up); // [batch·seq, intermediate]
      hidden = add(hidden, residualDropout(this.project(layerIndex, 'down_proj', gated, options.random)));
    });
    if (cache) cache.advance(seq);

    let normed = rmsnorm(hidden, this.finalNorm, c.rms_norm_eps);
    if (options.lastOnly) normed = lastPositions(normed, batch, seq); // [batch, hidden]
    return linear(normed, this.lmHead);
  }

  /** x·Wᵀ for one projection of a layer, plus the LoRA update when the attached adapter adapts it. */
  private project(layer: number, target: LoraTarget, x: Tensor, random?: Random): Tensor {
    const weight = this.layers[layer][PROJECTIONS[target]];
    return this.adapter ? this.adapter.apply(layer, target, x, weight, random) : linear(x, weight);
  }

  /** The attached LoRA adapter, or null. */
  get lora(): LoraAdapter | null {
    return this.adapter;
  }

  /**
   * Attaches a fresh LoRA adapter (A Kaiming-uniform, B zeros) and freezes every base parameter: while it is
   * attached only the adapter's tensors get gradients, and the base weights get no gradient buffers.
   */
  attachLora(options: LoraOptions): LoraAdapter {
    if (this.adapter) throw new Error('attachLora: an adapter is already attached; detach or merge it first');
    this.adapter = new LoraAdapter(this.config, options);
    for (const p of this.parameters.values()) {
      p.requiresGrad = false;
      p.grad = null;
    }
    return this.adapter;
  }

  /** Removes the adapter (its tensors are kept by whoever holds it) and unfreezes the base parameters. */
  detachLora(): void {
    this.adapter = null;
    for (const p of this.parameters.values()) p.requiresGrad = true;
  }

  /** Folds the adapter into the base weights, W += scaling·B@A (PEFT's merge), then detaches it. */
  mergeLora(): void {
    const adapter = this.adapter;
    if (!adapter) throw new Error('mergeLora: no adapter is attached');
    this.layers.forEach((w, layer) => {
      for (const target of adapter.options.targets) {
        const weight = w[PROJECTIONS[target]];
        const delta = adapter.delta(layer, target);
        for (let i = 0; i < weight.size; i++) weight.data[i] += delta[i];
      }
    });
    this.detachLora();
  }

  /** Mean next-token cross-entropy; targets equal to IGNORE_INDEX (−100) are masked out. */
  loss(inputs: TokenIds, targets: Int32Array, options: Omit<ForwardOptions, 'cache' | 'lastOnly'>): Tensor {
    return crossEntropy(this.forward(inputs, options), targets, IGNORE_INDEX);
  }

  /**
   * Each sequence's summed log-probability of its targets, [batch]; targets equal to IGNORE_INDEX are skipped.
   * The completion likelihoods a preference loss (DPO) compares.
   */
  sequenceLogProbs(
    inputs: TokenIds,
    targets: Int32Array,
    options: Omit<ForwardOptions, 'cache' | 'lastOnly'>,
  ): Tensor {
    return sequenceLogProbs(this.forward(inputs, options), targets, options.batch, IGNORE_INDEX);
  }

  /**
   * Optimizer groups: matrices get weight decay; norms, biases and embeddings do not (tied embeddings are
   * the output matrix too, and are still not decayed, as in the Llama and GPT-2 recipes).
   */
  parameterGroups(weightDecay: number): { params: Tensor[]; weightDecay: number }[] {
    const decay: Tensor[] = [];
    const noDecay: Tensor[] = [];
    for (const [name, t] of this.parameters) {
      if (t.shape.length === 2 && name !== 'model.embed_tokens.weight') decay.push(t);
      else noDecay.push(t);
    }
    return [
      { params: decay, weightDecay },
      { params: noDecay, weightDecay: 0 },
    ];
  }

  /** A fresh cache for generating up to `capacity` positions with this model. */
  createCache(capacity = this.config.max_position_embeddings): KVCache {
    const c = this.config;
    return new KVCache(c.num_hidden_layers, capacity, c.num_key_value_heads * c.head_dim);
  }

  /** Logits of the next token after the given ids, without keeping anything for backward. */
  nextTokenLogits(ids: TokenIds, cache?: KVCache): Float32Array {
    return noGrad(() => this.forward(ids, { batch: 1, seq: ids.length, cache, lastOnly: true }).data);
  }
}

/** Rows seq−1, 2·seq−1, … of x [batch·seq, dim] (inference only). */
function lastPositions(x: Tensor, batch: number, seq: number): Tensor {
  if (x.requiresGrad) throw new Error('forward: lastOnly is for inference; run it under noGrad');
  if (seq === 1) return x;
  const dim = x.shape[1];
  const out = new Float32Array(batch * dim);
  for (let b = 0; b < batch; b++)
    out.set(x.data.subarray(((b + 1) * seq - 1) * dim, (b + 1) * seq * dim), b * dim);
  return new Tensor(out, [batch, dim]);
}
