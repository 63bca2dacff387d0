/**
 * Load-balancing terms. All take the router's unbiased scores [N, E] and
 * return scalars to be weighted by the config; counts are not differentiable.
 */
import {div, equal, expandDims, eye, range, logSumExp, matMul, maximum, mean, moments, mul, neg, norm, oneHot, reshape,
        scalar, Scalar, sign, square, sub, sum, Tensor, Tensor1D, Tensor2D, Tensor3D, cast} from '@tensorflow/tfjs-core';
import {assertTensor, fail} from '@sluice/core/internal';

/** Tokens per expert [E] (float32) among the routed (token, slot) pairs. */
export function expertCounts(expertIndices: Tensor2D, numExperts: number): Tensor1D {
  const flat = reshape(expertIndices, [expertIndices.size]);
  // A comparison against every expert rather than tf.oneHot, which needs depth >= 2.
  return sum(cast(equal(expandDims(flat, 1), range(0, numExperts, 1, 'int32')), 'float32'), 0) as Tensor1D;
}

/**
 * Switch/GShard: E · Σ_e f_e · P_e with f_e the fraction of pairs routed to
 * e (from `counts`) and P_e the mean probability of e. Sigmoid scores are
 * normalised per token first, so P sums to 1 either way. 1 when balanced.
 */
export function loadBalancingLoss(scores: Tensor2D, counts: Tensor1D): Scalar {
  assertTensor('loadBalancingLoss', 'scores', scores, 2, ['float32'], '[N, E]');
  assertTensor('loadBalancingLoss', 'counts', counts, 1, ['float32'], '[E]');
  const e = scores.shape[1];
  // A [1] counts would broadcast silently against the E probabilities.
  if (counts.shape[0] !== e) {
    fail('loadBalancingLoss', 'counts', `of shape [${e}] (E from scores)`, `shape [${counts.shape.join(',')}]`);
  }
  const probs = div(scores, maximum(sum(scores, 1, true), scalar(1e-9)));
  const p = mean(probs, 0);
  const f = div(counts, maximum(sum(counts), scalar(1)));
  return mul(sum(mul(f, p)), scalar(e)) as Scalar;
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

/** Aux-loss-free step: b_e + rate · sign(mean load − load_e). */
export function updatedSelectionBias(bias: Tensor, counts: Tensor1D, rate: number): Tensor1D {
  return sub(bias, mul(sign(sub(counts, mean(counts))), scalar(rate))) as Tensor1D;
}
