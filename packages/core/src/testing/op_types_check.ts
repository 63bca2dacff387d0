/**
 * Compile-time test of the ops' typings (issue 14.1), type-checked by the
 * build under `strict` (this file is part of core's tsc project; nothing here
 * runs). Each line is a pattern a tfjs user writes; a typing regression makes
 * `npm run build` fail here. `@ts-expect-error` lines must stay errors.
 */
import * as tf from '@tensorflow/tfjs-core';

import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import {routeTopK} from '../ops/route_top_k';
import {topOneSuppression} from '../ops/top_one_suppression';

export function linearCrossEntropyTypes(): void {
  const hidden = tf.randomNormal([8, 16]);                  // Tensor<Rank>, not Tensor2D
  const hidden3 = tf.randomNormal([2, 4, 16]);
  const classifier = tf.variable(tf.randomNormal([100, 16]));  // Variable
  const kernel = tf.variable(tf.randomNormal([16, 100]));      // a dense layer's [D, V] kernel
  const labels = tf.tensor1d([1, 5, 7, 99, 0, 3, -100, 42], 'int32');
  const labels2 = tf.tensor2d([[1, 2, 3, 4], [5, 6, 7, 8]], [2, 4], 'int32');

  // Scalars for 'mean' / 'sum' (and tf.Reduction values): what optimizers and variableGrads want.
  const optimizer = tf.train.adam(1e-2);
  optimizer.minimize(() => linearCrossEntropy(hidden, classifier, labels));
  optimizer.minimize(() => linearCrossEntropy(hidden3, kernel, labels2, {classifierLayout: 'dv', shift: true}));
  optimizer.minimize(() => linearCrossEntropy(hidden, classifier, labels, {reduction: tf.Reduction.SUM}));
  const {value, grads} = tf.variableGrads(() => linearCrossEntropy(hidden, classifier, labels, {labelSmoothing: 0.1}));
  const mean: tf.Scalar = linearCrossEntropy(hidden, classifier, labels, {reduction: 'mean', maxSup: 0.1});
  tf.dispose([value, mean, ...Object.values(grads)]);

  // 'none': a tensor of the labels' rank.
  const perToken: tf.Tensor1D = linearCrossEntropy(hidden, classifier, labels, {reduction: 'none'});
  const perToken2: tf.Tensor2D = linearCrossEntropy(hidden3, classifier, labels2, {reduction: tf.Reduction.NONE});

  // Result objects: the requested fields are present (no `!`), the others optional.
  const {loss, lse} = linearCrossEntropy(hidden, classifier, labels, {returnLse: true});
  const scalarLoss: tf.Scalar = loss;
  lse.dispose();
  const extras = linearCrossEntropy(hidden3, classifier, labels2,
                                    {reduction: 'none', returnZLoss: true, returnPredictions: true,
                                     returnAccuracy: true, returnEntropy: true, zLoss: 1e-4});
  const zLoss2: tf.Tensor2D = extras.zLoss;
  const predictions: tf.Tensor2D = extras.predictions;
  tf.dispose([extras.loss, extras.accuracy, extras.entropy, zLoss2, predictions, scalarLoss]);
  const meanAccuracy: tf.Scalar = linearCrossEntropy(hidden, classifier, labels, {returnAccuracy: true}).accuracy;
  // @ts-expect-error lse was not requested, so it may be absent
  linearCrossEntropy(hidden, classifier, labels, {returnAccuracy: true}).lse.dispose();

  // TensorLike inputs and options.
  const fromArrays: tf.Scalar = linearCrossEntropy([[0.1, 0.2]], [[1, 0], [0, 1], [1, 1]], [2],
                                                   {bias: [0, 0, -Infinity], classWeights: [1, 2, 1]});
  // @ts-expect-error classifierLayout has two values
  linearCrossEntropy(hidden, classifier, labels, {classifierLayout: 'vD'});
  // @ts-expect-error reduction 'avg' is not one
  linearCrossEntropy(hidden, classifier, labels, {reduction: 'avg'});
  tf.dispose([perToken, perToken2, meanAccuracy, fromArrays, hidden, hidden3, classifier, kernel, labels, labels2]);
  optimizer.dispose();
}

export function topOneSuppressionTypes(): void {
  const z = tf.randomNormal([4, 10]);
  const penalty: tf.Tensor1D = topOneSuppression(z, 0.1);
  const fromArray: tf.Tensor1D = topOneSuppression([[2, 0, 1], [5, 5, 2]]);
  const [dz] = tf.grads((x: tf.Tensor) => tf.sum(topOneSuppression(x)))([z]);
  tf.dispose([penalty, fromArray, dz, z]);
}

export function routeTopKTypes(): void {
  const logits = tf.randomNormal([6, 4]);                   // Tensor<Rank>, not Tensor2D
  // returnScores: true: scores is present (no `!`).
  const {expertIndices, gates, scores} = routeTopK(logits, 2, {returnScores: true, scoring: 'sigmoid'});
  const all: tf.Tensor2D = scores;
  const chosen: tf.Tensor2D = routeTopK([[0.1, 0.2, 0.3]], 1).expertIndices;  // TensorLike logits
  // @ts-expect-error scores was not requested, so it may be absent
  routeTopK(logits, 2).scores.dispose();
  // @ts-expect-error nor with returnScores: false
  routeTopK(logits, 2, {returnScores: false}).scores.dispose();
  const flag: boolean = Math.random() > 0.5;
  // @ts-expect-error a boolean flag known only at run time: scores may be absent
  routeTopK(logits, 2, {returnScores: flag}).scores.dispose();
  // @ts-expect-error scoring has two values
  routeTopK(logits, 2, {scoring: 'softplus'});
  tf.dispose([expertIndices, gates, all, chosen, logits]);
}
