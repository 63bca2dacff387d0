/**
 * MaxSup (Zhou et al., "MaxSup: Overcoming Representation Collapse in Label
 * Smoothing"): cross-entropy plus α·(max_j z_j − mean_j z_j). Label smoothing
 * pulls the label's logit towards the mean, which on a misclassified sample
 * rewards the wrong top-1; MaxSup pulls down whichever logit is top-1, so
 * correct and incorrect predictions are regularised alike.
 */
import * as tf from '@tensorflow/tfjs-core';

import {perSampleCrossEntropy} from './cross_entropy_terms';
import {FusedLoss, FusedOptions, fusedCrossEntropy} from './loss_function';
import {Coefficient} from './schedule';
import {checkCoefficient, checkIgnoreIndex, checkLossInputs, checkOptions, coefficient} from './validate';

export interface MaxSupOptions {
  /** Weight of α·(max z − mean z): a number or a schedule. >= 0; default 0.1. */
  alpha?: Coefficient;
  /** Optional label smoothing on top (tfjs's convention). In [0, 1]; default 0. */
  labelSmoothing?: Coefficient;
  /** Class ids equal to this add 0 loss and 0 gradient. Default: none. */
  ignoreIndex?: number;
}

const OP = 'maxSupCrossEntropy';
const KNOWN = ['alpha', 'labelSmoothing', 'ignoreIndex'] as const;
const DEFAULT_ALPHA = 0.1;

/**
 * Per-sample loss (yTrue, logits) → [B]. With `alpha: linearSchedule(0.1,
 * 0.2, steps)` and `scheduleCallback(alpha)` in model.fit, α rises over
 * training as in the paper.
 */
export function maxSupCrossEntropy(options: MaxSupOptions = {}): FusedLoss {
  checkOptions(OP, options, KNOWN);
  const ignoreIndex = checkIgnoreIndex(OP, options.ignoreIndex);
  checkCoefficient(OP, 'alpha', options.alpha);
  checkCoefficient(OP, 'labelSmoothing', options.labelSmoothing, 1);
  const terms = () => ({
    labelSmoothing: coefficient(OP, 'labelSmoothing', options.labelSmoothing, 0, 1),
    zLoss: 0,
    maxSup: coefficient(OP, 'alpha', options.alpha, DEFAULT_ALPHA),
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
