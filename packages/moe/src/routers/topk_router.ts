import {Tensor1D, Tensor2D} from '@tensorflow/tfjs-core';
import {routeTopK} from '@sluice/core';

import type {RouterOutput} from './routing';
import type {Scoring} from '../config';

/**
 * Top-k of the scores; `bias` shifts the choice only, gates are unbiased
 * scores (renormalised when `normalize`); optional group limit (DeepSeek-V3). routeTopK's own scores serve
 * the balancing losses: the softmax runs once.
 */
export function topkRouter(logits: Tensor2D, k: number, scoring: Scoring, bias: Tensor1D|null,
                           groups: {numGroups: number, topKGroups: number}|null, normalize = k > 1): RouterOutput {
  const {expertIndices, gates, scores} = routeTopK(logits, k, {scoring, bias: bias ?? undefined, normalize,
                                                               returnScores: true, ...(groups ?? {})});
  return {routing: {kind: 'slots', expertIndices, gates}, scores};
}
