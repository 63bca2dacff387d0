import {fill, randomUniform, range, reshape, Tensor2D, tidy, tile, topk} from '@tensorflow/tfjs-core';

import type {RouterOutput} from './routing';
import {routerScores} from './scores';
import type {Scoring} from '../config';

/**
 * THOR-style stochastic experts: in training each token goes to k distinct
 * experts drawn uniformly at random, with equal gates 1/k. At inference the
 * output is that draw's expectation, every expert with gate 1/E, which makes
 * it deterministic (as dropout does by rescaling), and dropless: the layer
 * applies no capacity then, since each expert receives all N tokens. The
 * router's scores are still returned for losses and metrics.
 */
export function stochasticRouter(logits: Tensor2D, k: number, scoring: Scoring, training: boolean,
                                 seed: number): RouterOutput {
  const [n, e] = logits.shape;
  const scores = routerScores(logits, scoring);
  if (training) {
    const expertIndices = tidy(() => topk(randomUniform([n, e], 0, 1, 'float32', seed), k).indices as Tensor2D);
    return {routing: {kind: 'slots', expertIndices, gates: fill([n, k], 1 / k) as Tensor2D}, scores};
  }
  const expertIndices = tidy(() => tile(reshape(range(0, e, 1, 'int32'), [1, e]), [n, 1]) as Tensor2D);
  return {routing: {kind: 'slots', expertIndices, gates: fill([n, e], 1 / e) as Tensor2D}, scores};
}
