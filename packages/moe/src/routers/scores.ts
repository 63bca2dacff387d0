import {div, sigmoid, softmax, sum, Tensor2D} from '@tensorflow/tfjs-core';

import type {Scoring} from '../config';

export function routerScores(logits: Tensor2D, scoring: Scoring): Tensor2D {
  return (scoring === 'softmax' ? softmax(logits) : sigmoid(logits)) as Tensor2D;
}

export {gatherPerRow as gatherRows} from '@sluice/core/internal';

/** Gates renormalised to sum 1 per token. */
export function renormalize(gates: Tensor2D): Tensor2D {
  return div(gates, sum(gates, 1, true)) as Tensor2D;
}
