import {add, cast, gather, mul, range, reshape, scalar, Tensor1D, Tensor2D, tidy, tile, topk,
        transpose} from '@tensorflow/tfjs-core';

import type {RouterOutput} from './routing';
import {routerScores} from './scores';
import {stopGradient} from '@sluice/core/internal';
import type {Scoring} from '../config';

/**
 * Expert choice (Zhou et al. 2022): every expert takes the `capacity` tokens
 * that score it highest, so load is balanced by construction and a token may
 * get any number of experts, including none. Gates are the chosen scores.
 */
export function expertChoiceRouter(logits: Tensor2D, capacity: number, scoring: Scoring): RouterOutput {
  const [n, e] = logits.shape;
  const scores = routerScores(logits, scoring);
  const c = Math.min(capacity, n);
  const tokenIndices = tidy(() => reshape(topk(transpose(stopGradient(scores)) as Tensor2D, c).indices, [e * c])) as
      Tensor1D;
  // Flat gather of scoresᵀ[e, token]: its gradient is a segment sum.
  const flat = tidy(() => add(mul(reshape(tile(reshape(range(0, e, 1, 'int32'), [e, 1]), [1, c]), [e * c]), scalar(n, 'int32')), tokenIndices));
  const gates = gather(reshape(transpose(scores), [e * n]), cast(flat, 'int32')) as Tensor1D;
  flat.dispose();
  return {routing: {kind: 'expertChoice', tokenIndices, gates, capacity: c}, scores};
}
