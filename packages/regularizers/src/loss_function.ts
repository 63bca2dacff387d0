/**
 * What the losses of this package are: `(yTrue, yPred) => per-sample losses`,
 * the signature tfjs-layers' `model.compile({loss})` calls (it averages the
 * result over the batch), and for the cross-entropies a `.fused` method that
 * computes the same loss from hidden states and the classifier through
 * @sluice/core's linearCrossEntropy, never materialising the logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, LinearCrossEntropyOptions} from '@sluice/core';

import {CeTerms} from './cross_entropy_terms';
import {assertClassIds, checkOptions} from './validate';

/** yTrue: class ids [B] (int32) or targets [B, V]; yPred: logits [B, V]; returns [B]. */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

export interface FusedOptions {
  /** [V], added to hidden · classifierᵀ. */
  bias?: tf.Tensor1D;
  /** Default 'mean' over non-ignored tokens. */
  reduction?: 'mean'|'sum'|'none';
}

export interface FusedLoss extends LossFunction {
  /**
   * The same loss from hidden [N, D], classifier [V, D] (logits = hidden ·
   * classifierᵀ + bias) and int32 labels [N], through linearCrossEntropy:
   * a scalar (mean over non-ignored tokens unless `reduction` says otherwise),
   * or [N] per-token losses with `reduction: 'none'`.
   */
  fused(hidden: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D,
        options?: FusedOptions & {reduction?: 'mean'|'sum'}): tf.Scalar;
  fused(hidden: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D,
        options: FusedOptions & {reduction: 'none'}): tf.Tensor1D;
}

// linearCrossEntropy ignores -100 unless told otherwise; without an ignoreIndex
// no id may be skipped, so it gets int32's minimum (exact as an int32 or
// float32 attr on every backend), which is no class id and fails the range check.
const NO_IGNORE = -2147483648;

/** Runs linearCrossEntropy with a loss's terms; labels are range-checked under the loss's name. */
export function fusedCrossEntropy(op: string, hidden: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D,
                                  options: FusedOptions|undefined, terms: CeTerms): tf.Tensor {
  const o = options ?? {};
  checkOptions(op, o, ['bias', 'reduction'], 'fused options');
  // Shapes and dtypes are left to linearCrossEntropy, whose errors name the argument.
  if (labels != null && classifier != null && labels.rank === 1 && classifier.rank === 2 && !labels.isDisposed) {
    assertClassIds(op, 'labels', labels, classifier.shape[0], terms.ignoreIndex);
  }
  const lceOptions: LinearCrossEntropyOptions = {
    ignoreIndex: terms.ignoreIndex ?? NO_IGNORE,
    labelSmoothing: terms.labelSmoothing,
    zLoss: terms.zLoss,
    maxSup: terms.maxSup,
    reduction: o.reduction ?? 'mean',
  };
  if (o.bias != null) lceOptions.bias = o.bias;
  return linearCrossEntropy(hidden, classifier, labels, lceOptions) as tf.Tensor;
}
