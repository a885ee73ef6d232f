// Direct Preference Optimization's sigmoid loss (Rafailov et al. 2023; TRL's loss_type "sigmoid" without label
// smoothing). For pair i with policy log-probabilities πc, πr of the chosen and rejected completions and the
// reference model's rc, rr, the implicit rewards are β(πc − rc) and β(πr − rr), and the loss is
// −log σ(β((πc − rc) − (πr − rr))), averaged over pairs. The reference values are constants.
import { Tensor, accumulateGrad, record } from '../tensor.ts';

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** 1 / (1 + e^−x) without overflow. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * policy [2·pairs] (the chosen completions' log-probabilities, then the rejected ones', pair by pair), reference
 * of the same layout (no gradient) → the mean sigmoid DPO loss over pairs, as a one-element tensor.
 */
export function dpoLoss(policy: Tensor, reference: Tensor, beta: number): Tensor {
  if (policy.shape.length !== 1 || policy.size % 2 !== 0 || policy.size === 0)
    throw new Error(`dpoLoss: policy must be [2·pairs], got [${policy.shape.join(', ')}]`);
  if (reference.shape.join() !== policy.shape.join())
    throw new Error(
      `dpoLoss: reference [${reference.shape.join(', ')}] does not match policy [${policy.shape.join(', ')}]`,
    );
  if (reference.requiresGrad) throw new Error('dpoLoss: the reference log-probabilities are constants');
  if (!(Number.isFinite(beta) && beta > 0)) throw new Error(`dpoLoss: beta must be positive, got ${beta}`);
  const pairs = policy.size / 2;
  const p = policy.data;
  const r = reference.data;
  // z_i = β·(chosen log-ratio − rejected log-ratio), in float64.
  const z = new Float64Array(pairs);
  let total = 0;
  for (let i = 0; i < pairs; i++) {
    z[i] = beta * (p[i] - r[i] - (p[pairs + i] - r[pairs + i]));
    total += softplus(-z[i]);
  }
  const out = Tensor.result([1], [policy]);
  out.data[0] = total / pairs;
  if (!out.requiresGrad) return out;
  record([policy], out, () => {
    const g = out.grad![0];
    accumulateGrad(policy, (dp, acc) => {
      for (let i = 0; i < pairs; i++) {
        // d softplus(−z)/dz = −σ(−z); dz/dπc = β, dz/dπr = −β.
        const dz = (-g * sigmoid(-z[i])) / pairs;
        dp[i] = (acc ? dp[i] : 0) + beta * dz;
        dp[pairs + i] = (acc ? dp[pairs + i] : 0) - beta * dz;
      }
    });
  });
  return out;
}
