// LoRA (Hu et al. 2021) with PEFT's semantics: each adapted projection W [out, in] gains a low-rank update,
// y = W·x + scaling · B(A(dropout(x))) with A [r, in] and B [out, r]. Tensor names are PEFT's
// adapter_model.safetensors keys, so an adapter saves and loads one to one.
import { scale } from '../ops/elementwise.ts';
import { loraLinear } from '../ops/lora-linear.ts';
import { linear, matmul } from '../ops/matmul.ts';
import { Random } from '../random.ts';
import { Tensor, noGrad } from '../tensor.ts';
import type { LlamaConfig } from './config.ts';

export type LoraTarget = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

/** Every projection LoRA can adapt, in the order of a layer's forward pass (and PEFT's state dict). */
export const LORA_TARGETS: readonly LoraTarget[] = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
];

export interface LoraOptions {
  /** r: the rank of the update. */
  rank: number;
  /** lora_alpha: the update is scaled by alpha / r (alpha / √r with rslora). */
  alpha: number;
  /** Dropout on the adapter's input during training (default 0). */
  dropout?: number;
  targets: readonly LoraTarget[];
  /** Rank-stabilized scaling alpha / √r (Kalajdzievski 2023), PEFT's use_rslora. */
  rslora?: boolean;
  /** Seed of A's initialization (default 0). */
  seed?: number;
}

interface LoraPair {
  a: Tensor;
  b: Tensor;
}

/** The checkpoint module path of a projection: `self_attn.q_proj`, `mlp.gate_proj`. */
export function loraModulePath(target: LoraTarget): string {
  const mlp = target === 'gate_proj' || target === 'up_proj' || target === 'down_proj';
  return `${mlp ? 'mlp' : 'self_attn'}.${target}`;
}

/** [out, in] of a projection's weight in a model with this config. */
export function projectionShape(config: LlamaConfig, target: LoraTarget): [number, number] {
  const { hidden_size: h, intermediate_size: f, head_dim: d } = config;
  const q = config.num_attention_heads * d;
  const kv = config.num_key_value_heads * d;
  const shapes: Record<LoraTarget, [number, number]> = {
    q_proj: [q, h],
    k_proj: [kv, h],
    v_proj: [kv, h],
    o_proj: [h, q],
    gate_proj: [f, h],
    up_proj: [f, h],
    down_proj: [h, f],
  };
  return shapes[target];
}

/** PEFT's key of A or B for one projection of one layer. */
export function loraKey(layer: number, target: LoraTarget, half: 'lora_A' | 'lora_B'): string {
  return `base_model.model.model.layers.${layer}.${loraModulePath(target)}.${half}.weight`;
}

function validateOptions(options: LoraOptions): Required<LoraOptions> {
  const { rank, alpha } = options;
  if (!Number.isInteger(rank) || rank <= 0)
    throw new Error(`lora: rank must be a positive integer, got ${rank}`);
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new Error(`lora: alpha must be positive, got ${alpha}`);
  const rate = options.dropout ?? 0;
  if (!(rate >= 0 && rate < 1)) throw new Error(`lora: dropout ${rate} must be in [0, 1)`);
  if (options.targets.length === 0) throw new Error('lora: targets must name at least one projection');
  for (const t of options.targets) {
    if (!LORA_TARGETS.includes(t))
      throw new Error(`lora: unknown target '${t}'; expected some of ${LORA_TARGETS.join(', ')}`);
  }
  return {
    rank,
    alpha,
    dropout: rate,
    // Canonical order, without repeats, so the same set of targets always gives the same tensors.
    targets: LORA_TARGETS.filter((t) => options.targets.includes(t)),
    rslora: options.rslora ?? false,
    seed: options.seed ?? 0,
  };
}

/** The trainable low-rank matrices for the chosen projections of every layer of one model. */
export class LoraAdapter {
  readonly options: Required<LoraOptions>;
  /** alpha / r, or alpha / √r with rslora. */
  readonly scaling: number;
  /**
   * PEFT keys exactly: `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` [r, in] and
   * `…lora_B.weight` [out, r] (`mlp.*` for gate/up/down), layer by layer in forward order, A before B.
   */
  readonly parameters = new Map<string, Tensor>();
  private readonly layers: Map<LoraTarget, LoraPair>[] = [];

  /** A fresh adapter: A Kaiming-uniform as PEFT initializes it (seeded), B zeros, so it starts as a no-op. */
  constructor(config: LlamaConfig, options: LoraOptions) {
    this.options = validateOptions(options);
    const { rank, alpha, rslora, targets } = this.options;
    this.scaling = rslora ? alpha / Math.sqrt(rank) : alpha / rank;
    const random = new Random(this.options.seed);
    for (let layer = 0; layer < config.num_hidden_layers; layer++) {
      const pairs = new Map<LoraTarget, LoraPair>();
      for (const target of targets) {
        const [out, inFeatures] = projectionShape(config, target);
        // kaiming_uniform_(a=√5) on A [r, in]: bound = gain·√(3/fan_in) with gain = √(2/(1+5)), i.e. 1/√in.
        const bound = 1 / Math.sqrt(inFeatures);
        const a = new Float32Array(rank * inFeatures).map(() => (2 * random.uniform() - 1) * bound);
        pairs.set(target, {
          a: this.add(loraKey(layer, target, 'lora_A'), a, [rank, inFeatures]),
          b: this.add(loraKey(layer, target, 'lora_B'), new Float32Array(out * rank), [out, rank]),
        });
      }
      this.layers.push(pairs);
    }
  }

  private add(name: string, data: Float32Array, shape: number[]): Tensor {
    const t = new Tensor(data, shape, { requiresGrad: true, name });
    this.parameters.set(name, t);
    return t;
  }

  /** A and B of one projection, or undefined when it is not adapted. */
  pair(layer: number, target: LoraTarget): Readonly<LoraPair> | undefined {
    return this.layers[layer]?.get(target);
  }

  /**
   * x·Wᵀ + scaling · B(A(dropout(x))) for projection `target` of `layer` with base weight W, or x·Wᵀ when that
   * projection is not adapted. Dropout runs only with a generator (training) and a rate above 0.
   */
  apply(layer: number, target: LoraTarget, x: Tensor, weight: Tensor, random?: Random): Tensor {
    const pair = this.pair(layer, target);
    if (!pair) return linear(x, weight);
    const dropout = random && this.options.dropout > 0 ? { rate: this.options.dropout, random } : null;
    return loraLinear(x, weight, pair.a, pair.b, this.scaling, dropout);
  }

  /** scaling · B@A [out, in] for one adapted projection: the change a merge adds to W. */
  delta(layer: number, target: LoraTarget): Float32Array {
    const pair = this.pair(layer, target);
    if (!pair) throw new Error(`lora: layer ${layer} ${target} is not adapted`);
    return noGrad(() => scale(matmul(pair.b, pair.a), this.scaling)).data;
  }

  /** One optimizer group: PEFT (through the Hugging Face Trainer) decays every LoRA matrix. */
  parameterGroups(weightDecay: number): { params: Tensor[]; weightDecay: number }[] {
    return [{ params: [...this.parameters.values()], weightDecay }];
  }
}
