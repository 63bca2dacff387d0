/**
 * Sparse categorical cross-entropy with label smoothing, z-loss and an
 * ignore index, from logits. Unlike tf.losses.softmaxCrossEntropy it takes
 * integer class ids without a one-hot, and it also accepts the one-hot or
 * soft targets model.fit hands a custom loss.
 */
import * as tf from '@tensorflow/tfjs-core';

import {perSampleCrossEntropy} from './cross_entropy_terms';
import {FusedLoss, FusedOptions, fusedCrossEntropy} from './loss_function';
import {Coefficient} from './schedule';
import {checkCoefficient, checkIgnoreIndex, checkLossInputs, checkOptions, coefficient} from './validate';

export interface SparseCrossEntropyOptions {
  /** target = (1 − ls)·y + ls/V (tfjs's convention). In [0, 1]; default 0. */
  labelSmoothing?: Coefficient;
  /** Adds zLoss · logsumexp(z)² per sample. >= 0; default 0. */
  zLoss?: Coefficient;
  /** Class ids equal to this add 0 loss and 0 gradient (class-id targets only). Default: none. */
  ignoreIndex?: number;
}

const OP = 'sparseCategoricalCrossEntropy';
const KNOWN = ['labelSmoothing', 'zLoss', 'ignoreIndex'] as const;

/**
 * Per-sample loss (yTrue, logits) → [B]; ignored samples give 0, so
 * model.fit's batch mean counts them in its denominator (`.fused` averages
 * over the kept tokens only).
 *
 * ```js
 * const ce = sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 1e-4, ignoreIndex: -100});
 * ce(tf.tensor1d([2, -100], 'int32'), tf.tensor2d([[1, 2, 3], [0, 0, 0]]));  // [B]
 * ```
 */
export function sparseCategoricalCrossEntropy(options: SparseCrossEntropyOptions = {}): FusedLoss {
  checkOptions(OP, options, KNOWN);
  const ignoreIndex = checkIgnoreIndex(OP, options.ignoreIndex);
  checkCoefficient(OP, 'labelSmoothing', options.labelSmoothing, 1);
  checkCoefficient(OP, 'zLoss', options.zLoss);
  // Read at every call: a schedule's current value may have moved since the last batch.
  const terms = () => ({
    labelSmoothing: coefficient(OP, 'labelSmoothing', options.labelSmoothing, 0, 1),
    zLoss: coefficient(OP, 'zLoss', options.zLoss, 0),
    maxSup: 0,
    ignoreIndex,
  });
  const loss = ((yTrue: tf.Tensor, yPred: tf.Tensor) => {
    checkLossInputs(OP, yTrue, yPred, ignoreIndex);
    const t = terms();
    return tf.tidy(() => perSampleCrossEntropy(yTrue, yPred as tf.Tensor2D, t));
  }) as FusedLoss;
  loss.fused = ((hidden: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D, fusedOptions?: FusedOptions) =>
                    fusedCrossEntropy(OP, hidden, classifier, labels, fusedOptions, terms())) as FusedLoss['fused'];
  return loss;
}
