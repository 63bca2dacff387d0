import {add, cast, equal, expandDims, greater, mul, op, range, reshape, scalar, sum, tanh, Tensor, Tensor1D, Tensor2D,
        TensorLike, tidy, tile, topk, where, zeros} from '@tensorflow/tfjs-core';

import {assertInteger, assertKnownKeys, assertOneOf, assertTensor, chosenGates, emptyResult, fail, GroupLimit,
        resolveGroupLimit, routerScores, stopGradient, toTensor} from '../internal';

const OP = 'routeTopK';

export interface RouteTopKOptions {
  /** 'softmax' (default) or 'sigmoid' of the router logits. */
  scoring?: 'softmax'|'sigmoid';
  /** [E], added to the scores to choose the experts only (aux-loss-free balancing). */
  bias?: Tensor|TensorLike;
  /** Renormalise each token's k gates to sum 1. Default: k > 1. */
  normalize?: boolean;
  /**
   * Group-limited routing (DeepSeek-V3, Glm4Moe): the E experts form
   * `numGroups` equal groups of consecutive experts; a token keeps the
   * `topKGroups` groups with the largest sum of their two best biased scores
   * (the best one for groups of one expert) and chooses its k experts inside them:
   * the other experts' keys become −Infinity, as in transformers 5.17
   * (`DeepseekV3TopkRouter`, `Glm4MoeTopkRouter`) and DeepSeek-V3's own
   * inference code. transformers 4.x (`get_topk_indices`) set them to 0, which
   * differs when the kept experts' biased scores are negative (a negative bias).
   */
  numGroups?: number;
  /** Groups each token keeps, in [1, numGroups]; required with numGroups. */
  topKGroups?: number;
  /** Also return `scores` [N, E], every expert's unbiased score (for load-balancing losses). Default false. */
  returnScores?: boolean;
}

export interface RouteTopKResult {
  expertIndices: Tensor2D;  // int32 [N, k], by descending biased score, ties to the lower expert
  gates: Tensor2D;          // [N, k] unbiased scores of the chosen experts
  /** [N, E] every expert's unbiased score (softmax or sigmoid of the logits), with `returnScores`. */
  scores?: Tensor2D;
}

/** routeTopK's result when `returnScores` is true: `scores` is present. */
export interface RouteTopKScoresResult extends RouteTopKResult {
  scores: Tensor2D;
}

/** routeTopK's names for the group-limit fields in its messages. */
const GROUP_NAMES = {numGroups: 'options.numGroups', topKGroups: 'options.topKGroups', numExperts: 'E', k: 'k'};

/**
 * DeepSeek-V3's group limit on the selection keys [N, E]: each group's score
 * is the sum of its two best keys; outside the `topKGroups` best groups
 * (ties to the lower group) a key becomes -Infinity, so no expert there is chosen.
 */
function limitToGroups(keys: Tensor2D, groups: GroupLimit): Tensor2D {
  const [n, e] = keys.shape;
  const size = e / groups.numGroups;
  const grouped = reshape(keys, [n, groups.numGroups, size]);
  const groupScores = sum(topk(grouped, Math.min(2, size)).values, 2);
  const keptGroups = topk(groupScores, groups.topKGroups).indices;  // [N, topKGroups]
  // [N, G]: 1 where the group is kept (a comparison against every group: tf.oneHot needs depth >= 2).
  // Reduced over the last axis only: tfjs-webgpu transposes other reductions, and its int32 transpose
  // does not compile.
  const keep = sum(cast(equal(reshape(range(0, groups.numGroups, 1, 'int32'), [1, groups.numGroups, 1]),
                              expandDims(keptGroups, 1)), 'float32'), 2);
  // [N, E]: the kept flag of each expert's group (experts [g·size, (g+1)·size) form group g).
  const keepExperts = reshape(tile(expandDims(keep, 2), [1, 1, size]), [n, e]);
  return where(greater(keepExperts, scalar(0.5)), keys, scalar(-Infinity) as unknown as Tensor2D) as Tensor2D;
}

function routeTopK_(routerLogitsIn: Tensor|TensorLike, k: number, options: RouteTopKOptions = {}): RouteTopKResult {
  const routerLogits = toTensor(OP, 'routerLogits', routerLogitsIn, 'float32', '[N, E]') as Tensor2D;
  assertTensor(OP, 'routerLogits', routerLogits, 2, ['float32'], '[N, E]');
  assertKnownKeys(OP, 'options', options, ['scoring', 'bias', 'normalize', 'numGroups', 'topKGroups',
                                           'returnScores']);
  const [n, e] = routerLogits.shape;
  assertInteger(OP, 'k', k, 1);
  if (k > e) fail(OP, 'k', `<= the number of experts E = ${e}`, String(k));
  const scoring = options.scoring === undefined ? 'softmax' : assertOneOf(OP, 'options.scoring', options.scoring,
                                                                          ['softmax', 'sigmoid'] as const);
  let bias: Tensor1D|undefined;
  if (options.bias != null) {
    bias = toTensor(OP, 'options.bias', options.bias, 'float32', '[E]') as Tensor1D;
    assertTensor(OP, 'options.bias', bias, 1, ['float32'], '[E]');
    if (bias.shape[0] !== e) {
      fail(OP, 'options.bias', `of shape [${e}] (E from routerLogits)`, `shape [${bias.shape.join(',')}]`);
    }
  }
  if (options.normalize !== undefined && typeof options.normalize !== 'boolean') {
    fail(OP, 'options.normalize', 'a boolean', String(options.normalize));
  }
  if (options.returnScores !== undefined && typeof options.returnScores !== 'boolean') {
    fail(OP, 'options.returnScores', 'a boolean', String(options.returnScores));
  }
  const groups = resolveGroupLimit(OP, GROUP_NAMES, options.numGroups, options.topKGroups, e, k);
  const normalize = options.normalize ?? k > 1;
  if (n === 0) {
    // No kernel on empty tensors (webgpu rejects zero-size bindings); emptyResult keeps the tape connected.
    const empty = {expertIndices: zeros([0, k], 'int32') as Tensor2D,
                   gates: emptyResult([0, k], [routerLogits]) as Tensor2D};
    return options.returnScores ? {...empty, scores: emptyResult([0, e], [routerLogits]) as Tensor2D} : empty;
  }
  const scores = routerScores(routerLogits, scoring);
  // tf.topk orders equal values by index on every backend; the bias only moves the choice.
  // Selection only: off the tape, so the integer indices are not on a differentiable path.
  // Equal logits must give equal keys, or the tie rule breaks: tfjs-node's
  // (Eigen's) sigmoid, exp and softmax round an element differently by its
  // position (vectorised body vs scalar tail). Without a bias or groups the
  // logits themselves are the key (both scorings are monotone per row); with
  // one, sigmoid is taken as 0.5 + 0.5·tanh(z/2), which rounds the same everywhere.
  const expertIndices = tidy(() => {
    const z = stopGradient(routerLogits);
    if (bias == null && groups == null) return topk(z, k).indices;
    const chooser: Tensor = scoring === 'softmax' ? stopGradient(scores) : add(0.5, mul(0.5, tanh(mul(0.5, z))));
    let keys = (bias == null ? chooser : add(chooser, bias)) as Tensor2D;
    if (groups != null) keys = limitToGroups(keys, groups);
    return topk(keys, k).indices;
  }) as Tensor2D;
  const gates = chosenGates(scores, expertIndices, normalize);
  return options.returnScores ? {expertIndices, gates, scores} : {expertIndices, gates};
}

/**
 * Top-k routing: per token, the k experts of highest score (softmax or
 * sigmoid of `routerLogits` [N, E]), plus an optional selection-only `bias`
 * (DeepSeek-V3's aux-loss-free balancing: it changes which experts are
 * chosen, not the gates) and group-limited routing (`numGroups`,
 * `topKGroups`). Gates are the chosen unbiased scores, renormalised to sum 1
 * when `normalize` (default for k > 1); with `returnScores`, `scores` [N, E]
 * are every expert's unbiased scores (for load-balancing losses, computed
 * once). Differentiable
 * w.r.t. the logits through the gates and scores; the indices are integers.
 *
 * ```js
 * const {expertIndices, gates, scores} = routeTopK(tf.randomNormal([6, 4]), 2, {returnScores: true});
 * ```
 */
export const routeTopK = op({routeTopK_}) as {
  (routerLogits: Tensor|TensorLike, k: number, options: RouteTopKOptions&{returnScores: true}): RouteTopKScoresResult;
  (routerLogits: Tensor|TensorLike, k: number, options?: RouteTopKOptions): RouteTopKResult;
};
