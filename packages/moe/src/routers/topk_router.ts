import {Tensor1D, Tensor2D} from '@tensorflow/tfjs-core';
import {routeTopK} from '@sluice/core';

import type {RouterOutput} from './routing';
import {routerScores} from './scores';
import type {Scoring} from '../config';

/** Top-k of the scores; `bias` shifts the choice only, gates are unbiased scores. */
export function topkRouter(logits: Tensor2D, k: number, scoring: Scoring, bias: Tensor1D|null): RouterOutput {
  const {expertIndices, gates} = routeTopK(logits, k, {scoring, bias: bias ?? undefined, normalize: k > 1});
  return {routing: {kind: 'slots', expertIndices, gates}, scores: routerScores(logits, scoring)};
}
