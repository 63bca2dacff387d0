/**
 * Load-balancing terms. All take the router's unbiased scores [N, E] and
 * return scalars to be weighted by the config; counts are not differentiable.
 */
import {add, div, eye, logSumExp, matMul, maximum, mean, moments, mul, neg, norm, scalar, Scalar, sign, square, sub,
        sum, Tensor, Tensor1D, Tensor2D, Tensor3D} from '@tensorflow/tfjs-core';
import {assertFiniteNumber, assertInteger, assertKnownKeys, assertOneOf, assertTensor, describeValue,
        fail} from '@sluice/core/internal';

export interface LoadBalancingLossOptions {
  /**
   * 'pairs' (default): f_e = pairs_e / Σ pairs = pairs_e / (N·k), 1 when
   * balanced (MegaBlocks `batched_load_balancing_loss`, DeepSpeed
   * `topkgating`). 'tokens': f_e = pairs_e / N, k when balanced
   * (transformers' Mixtral `load_balancing_loss_func`, Switch/flaxformer);
   * it needs `topK`. 'tokens' = k · 'pairs', so the same gradient takes a k
   * times smaller coefficient with 'tokens'.
   */
  convention?: 'pairs'|'tokens';
  /** k, the pairs per token (for 'tokens'). */
  topK?: number;
}

/**
 * Switch/GShard: E · Σ_e f_e · P_e with f_e the share of the routed pairs of
 * expert e (from `counts`, as the convention scales it) and P_e the mean
 * probability of e. Sigmoid scores are normalised per token first, so P
 * sums to 1 either way.
 */
export function loadBalancingLoss(scores: Tensor2D, counts: Tensor1D, options: LoadBalancingLossOptions = {}): Scalar {
  assertTensor('loadBalancingLoss', 'scores', scores, 2, ['float32'], '[N, E]');
  assertTensor('loadBalancingLoss', 'counts', counts, 1, ['float32'], '[E]');
  assertKnownKeys('loadBalancingLoss', 'options', options, ['convention', 'topK']);
  const convention = options.convention === undefined ? 'pairs' :
      assertOneOf('loadBalancingLoss', 'options.convention', options.convention, ['pairs', 'tokens'] as const);
  const k = convention === 'tokens' ? assertInteger('loadBalancingLoss', 'options.topK', options.topK, 1) : 1;
  const e = scores.shape[1];
  // A [1] counts would broadcast silently against the E probabilities.
  if (counts.shape[0] !== e) {
    fail('loadBalancingLoss', 'counts', `of shape [${e}] (E from scores)`, `shape [${counts.shape.join(',')}]`);
  }
  const probs = div(scores, maximum(sum(scores, 1, true), scalar(1e-9)));
  const p = mean(probs, 0);
  const f = div(counts, maximum(sum(counts), scalar(1)));
  return mul(sum(mul(f, p)), scalar(e * k)) as Scalar;
}

/** Router z-loss (ST-MoE): mean over tokens of logsumexp(logits)². */
export function routerZLoss(logits: Tensor2D): Scalar {
  assertTensor('routerZLoss', 'logits', logits, 2, ['float32'], '[N, E]');
  return mean(square(logSumExp(logits, 1))) as Scalar;
}

/**
 * Orthogonality: the outputs of one token's k experts should point in
 * different directions. Mean over tokens and ordered pairs i ≠ j of the
 * squared cosine between slot outputs; 0 when k = 1.
 */
export function orthogonalityLoss(slotOutputs: Tensor3D): Scalar {
  assertTensor('orthogonalityLoss', 'slotOutputs', slotOutputs, 3, ['float32'], '[N, k, H]');
  const [n, k] = slotOutputs.shape;
  if (k < 2 || n === 0) return scalar(0);
  const unit = div(slotOutputs, maximum(norm(slotOutputs, 'euclidean', 2, true), scalar(1e-6))) as Tensor3D;
  const gram = matMul(unit, unit, false, true);  // [N, k, k]
  const offDiagonal = sub(scalar(1), eye(k));
  return div(sum(mul(square(gram), offDiagonal)), scalar(n * k * (k - 1))) as Scalar;
}

/** Routing variance: minus the mean over tokens of the variance of its scores, so minimising sharpens routing. */
export function routingVarianceLoss(scores: Tensor2D): Scalar {
  assertTensor('routingVarianceLoss', 'scores', scores, 2, ['float32'], '[N, E]');
  if (scores.shape[0] === 0) return scalar(0);
  return neg(mean(moments(scores, 1).variance)) as Scalar;
}

/**
 * Aux-loss-free step (DeepSeek-V3): b_e + rate · sign(mean load − load_e);
 * `center` subtracts the update's mean first (torchtitan's
 * `_update_expert_bias`), so Σ b stays put. `bias` and `counts` (routed
 * pairs per expert) are float32 [E]; `rate` is a finite number >= 0.
 */
export function updatedSelectionBias(bias: Tensor, counts: Tensor1D, rate: number, center = false): Tensor1D {
  const op = 'updatedSelectionBias';
  assertTensor(op, 'bias', bias, 1, ['float32'], '[E]');
  assertTensor(op, 'counts', counts, 1, ['float32'], '[E]');
  // A [1] counts would broadcast silently: every expert would move the same way (or not at all).
  if (counts.shape[0] !== bias.shape[0]) {
    fail(op, 'counts', `of shape [${bias.shape[0]}] (E from bias)`, `shape [${counts.shape.join(',')}]`);
  }
  assertFiniteNumber(op, 'rate', rate, 0);
  if (typeof center !== 'boolean') fail(op, 'center', 'a boolean', describeValue(center));
  let delta = mul(sign(sub(mean(counts), counts)), scalar(rate));
  if (center) delta = sub(delta, mean(delta));
  return add(bias, delta) as Tensor1D;
}
