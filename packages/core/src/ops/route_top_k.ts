import {add, cast, div, gather, mul, op, range, reshape, scalar, sigmoid, softmax, sum, tanh, Tensor1D, Tensor2D,
        tidy, topk, zeros} from '@tensorflow/tfjs-core';

import {assertInteger, assertKnownKeys, assertOneOf, assertTensor, embeddingLookup, fail, gatherPerRow,
        stopGradient} from '../internal';

const OP = 'routeTopK';

export interface RouteTopKOptions {
  /** 'softmax' (default) or 'sigmoid' of the router logits. */
  scoring?: 'softmax'|'sigmoid';
  /** [E], added to the scores to choose the experts only (aux-loss-free balancing). */
  bias?: Tensor1D;
  /** Renormalise each token's k gates to sum 1. Default: k > 1. */
  normalize?: boolean;
}

export interface RouteTopKResult {
  expertIndices: Tensor2D;  // int32 [N, k], by descending biased score, ties to the lower expert
  gates: Tensor2D;          // [N, k] unbiased scores of the chosen experts
}

function routeTopK_(routerLogits: Tensor2D, k: number, options: RouteTopKOptions = {}): RouteTopKResult {
  assertTensor(OP, 'routerLogits', routerLogits, 2, ['float32'], '[N, E]');
  assertKnownKeys(OP, 'options', options, ['scoring', 'bias', 'normalize']);
  const [n, e] = routerLogits.shape;
  assertInteger(OP, 'k', k, 1);
  if (k > e) fail(OP, 'k', `<= the number of experts E = ${e}`, String(k));
  const scoring = options.scoring === undefined ? 'softmax' : assertOneOf(OP, 'options.scoring', options.scoring,
                                                                          ['softmax', 'sigmoid'] as const);
  if (options.bias != null) {
    assertTensor(OP, 'options.bias', options.bias, 1, ['float32'], '[E]');
    if (options.bias.shape[0] !== e) {
      fail(OP, 'options.bias', `of shape [${e}] (E from routerLogits)`, `shape [${options.bias.shape.join(',')}]`);
    }
  }
  if (options.normalize !== undefined && typeof options.normalize !== 'boolean') {
    fail(OP, 'options.normalize', 'a boolean', String(options.normalize));
  }
  const normalize = options.normalize ?? k > 1;
  if (n === 0) {
    // No kernel on empty tensors (webgpu rejects zero-size bindings); a reshape keeps the tape connected.
    return {expertIndices: zeros([0, k], 'int32') as Tensor2D, gates: reshape(routerLogits, [0, k]) as Tensor2D};
  }
  const scores = (scoring === 'softmax' ? softmax(routerLogits) : sigmoid(routerLogits)) as Tensor2D;
  // tf.topk orders equal values by index on every backend; the bias only moves the choice.
  // Selection only: off the tape, so the integer indices are not on a differentiable path.
  // Equal logits must give equal keys, or the tie rule breaks: tfjs-node's
  // (Eigen's) sigmoid, exp and softmax round an element differently by its
  // position (vectorised body vs scalar tail). Without a bias the logits
  // themselves are the key (both scorings are monotone per row); with one,
  // sigmoid is taken as 0.5 + 0.5·tanh(z/2), which rounds the same everywhere.
  const expertIndices = tidy(() => {
    const z = stopGradient(routerLogits);
    if (options.bias == null) return topk(z, k).indices;
    const chooser = scoring === 'softmax' ? stopGradient(scores) : add(0.5, mul(0.5, tanh(mul(0.5, z))));
    return topk(add(chooser, options.bias), k).indices;
  }) as Tensor2D;
  let gates = gatherPerRow(scores, expertIndices);
  if (normalize) gates = div(gates, sum(gates, 1, true));
  return {expertIndices, gates};
}

/**
 * Top-k routing: per token, the k experts of highest score (softmax or
 * sigmoid of `routerLogits` [N, E]), plus an optional selection-only `bias`
 * (DeepSeek-V3's aux-loss-free balancing: it changes which experts are
 * chosen, not the gates). Gates are the chosen unbiased scores, renormalised
 * to sum 1 when `normalize` (default for k > 1). Differentiable w.r.t. the
 * logits through the gates; the indices are integers.
 *
 * ```js
 * const {expertIndices, gates} = routeTopK(tf.randomNormal([6, 4]), 2);
 * ```
 */
export const routeTopK = op({routeTopK_});
