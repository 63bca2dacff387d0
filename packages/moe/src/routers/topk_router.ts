import {Tensor1D, Tensor2D} from '@tensorflow/tfjs-core';
import {routeTopK} from '@sluice/core';

import type {RouterOutput} from './routing';
import {routerScores} from './scores';
import type {Scoring} from '../config';

/** Top-k of the scores; `bias` shifts the choice only, gates are unbiased scores (renormalised when `normalize`). */
export function topkRouter(logits: Tensor2D, k: number, scoring: Scoring, bias: Tensor1D|null,
                           normalize = k > 1): RouterOutput {
  const {expertIndices, gates} = routeTopK(logits, k, {scoring, bias: bias ?? undefined, normalize});
  return {routing: {kind: 'slots', expertIndices, gates}, scores: routerScores(logits, scoring)};
}
