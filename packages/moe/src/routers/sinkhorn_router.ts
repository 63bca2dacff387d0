import {div, exp, max, sub, sum, Tensor2D, tidy, topk, scalar, mul} from '@tensorflow/tfjs-core';

import type {RouterOutput} from './routing';
import {gatherRows, renormalize, routerScores} from './scores';
import {stopGradient} from '@sluice/core/internal';
import type {Scoring} from '../config';

/**
 * Balanced assignment: Sinkhorn iterations turn exp(logits) into a plan whose
 * rows sum to 1 and columns to N/E; each token takes the top k of its plan
 * row. The plan only selects (no gradient flows through it); gates are the
 * unbiased scores of the chosen experts.
 */
export function sinkhornRouter(logits: Tensor2D, k: number, scoring: Scoring, iterations: number,
                               normalize = k > 1): RouterOutput {
  const [n, e] = logits.shape;
  const expertIndices = tidy(() => {
    const z = stopGradient(logits);  // the plan only selects
    let plan = exp(sub(z, max(z, 1, true))) as Tensor2D;
    for (let t = 0; t < iterations; ++t) {
      plan = mul(div(plan, sum(plan, 0, true)), scalar(n / e));  // columns: N / E each
      plan = div(plan, sum(plan, 1, true));                       // rows: 1 each
    }
    return topk(plan, k).indices as Tensor2D;
  });
  const scores = routerScores(logits, scoring);
  const chosen = gatherRows(scores, expertIndices);
  return {routing: {kind: 'slots', expertIndices, gates: normalize ? renormalize(chosen) : chosen}, scores};
}
