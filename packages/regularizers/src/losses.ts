/**
 * Losses for `model.compile({loss})` and custom training loops. Each takes
 * (yTrue, yPred) with yPred the logits [batch, classes] and yTrue either
 * targets of the same shape (one-hot or soft: what model.fit hands a custom
 * loss) or int32 class ids [batch] (custom loops), and returns per-sample
 * losses [batch], which model.fit averages. The cross-entropies also offer
 * `.fused(hidden, classifier, labels)`: the same loss through sluice's
 * linearCrossEntropy, from the last hidden states and the classifier, with
 * no [tokens × vocabulary] logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, topOneSuppression} from '@sluice/core';

import {perSampleCrossEntropy} from './cross_entropy_terms';
import {Coefficient} from './schedule';
import {assertClassIds, assertLogits, coefficient} from './validate';
import {isClassIds} from './cross_entropy_terms';

export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

export interface FusedLoss extends LossFunction {
  /** Mean loss over non-ignored tokens, through linearCrossEntropy (hidden [N, D], classifier [V, D], labels int32 [N]). */
  fused(hidden: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D, options?: {bias?: tf.Tensor1D}): tf.Scalar;
}

function checkInputs(op: string, yTrue: tf.Tensor, yPred: tf.Tensor, ignoreIndex: number|null) {
  assertLogits(op, yPred);
  if (yTrue == null || yTrue.shape[0] !== yPred.shape[0]) {
    throw new Error(`${op}: yTrue must have the batch size of yPred (${yPred.shape[0]}), got ` +
                    (yTrue == null ? String(yTrue) : `shape [${yTrue.shape.join(',')}]`));
  }
  if (isClassIds(yTrue, yPred)) assertClassIds(op, yTrue, yPred.shape[1] as number, ignoreIndex);
}

export interface SparseCrossEntropyOptions {
  labelSmoothing?: Coefficient;
  zLoss?: Coefficient;
  /** Samples with this class id add 0 loss. Default: none. */
  ignoreIndex?: number;
}

/** Cross-entropy with label smoothing, z-loss and an ignore index, from integer class ids (or targets). */
export function sparseCategoricalCrossEntropy(options: SparseCrossEntropyOptions = {}): FusedLoss {
  const op = 'sparseCategoricalCrossEntropy';
  const ignoreIndex = options.ignoreIndex ?? null;
  if (ignoreIndex != null && !Number.isInteger(ignoreIndex)) {
    throw new Error(`${op}: ignoreIndex must be an integer, got ${String(ignoreIndex)}`);
  }
  const read = () => ({
    labelSmoothing: coefficient(op, 'labelSmoothing', options.labelSmoothing, 0, 1),
    zLoss: coefficient(op, 'zLoss', options.zLoss, 0),
  });
  read();
  const loss = ((yTrue: tf.Tensor, yPred: tf.Tensor) => {
    checkInputs(op, yTrue, yPred, ignoreIndex);
    return tf.tidy(() => perSampleCrossEntropy(yTrue, yPred as tf.Tensor2D, {...read(), ignoreIndex}));
  }) as FusedLoss;
  loss.fused = (hidden, classifier, labels, fusedOptions = {}) =>
      linearCrossEntropy(hidden, classifier, labels, {
        ...read(),
        ...(ignoreIndex != null ? {ignoreIndex} : {}),
        bias: fusedOptions.bias,
      }) as tf.Scalar;
  return loss;
}

export interface MaxSupOptions {
  /** Weight of the top-1 penalty α·(max z − mean z). Default 0.1. */
  alpha?: Coefficient;
  labelSmoothing?: Coefficient;
}

/**
 * MaxSup (Zhou et al.): cross-entropy plus α·(max_j z_j − mean_j z_j), which
 * penalises the top-1 logit whether or not it is the label's (label
 * smoothing penalises the label's logit only).
 */
export function maxSupCrossEntropy(options: MaxSupOptions = {}): FusedLoss {
  const op = 'maxSupCrossEntropy';
  const read = () => ({
    alpha: coefficient(op, 'alpha', options.alpha, 0.1),
    labelSmoothing: coefficient(op, 'labelSmoothing', options.labelSmoothing, 0, 1),
  });
  read();
  const loss = ((yTrue: tf.Tensor, yPred: tf.Tensor) => {
    checkInputs(op, yTrue, yPred, null);
    const {alpha, labelSmoothing} = read();
    return tf.tidy(() => tf.add(perSampleCrossEntropy(yTrue, yPred as tf.Tensor2D, {labelSmoothing, zLoss: 0,
                                                                                     ignoreIndex: null}),
                                topOneSuppression(yPred as tf.Tensor2D, alpha)));
  }) as FusedLoss;
  loss.fused = (hidden, classifier, labels, fusedOptions = {}) => {
    const {alpha, labelSmoothing} = read();
    return linearCrossEntropy(hidden, classifier, labels, {maxSup: alpha, labelSmoothing, bias: fusedOptions.bias}) as
        tf.Scalar;
  };
  return loss;
}

/** weight · mean_j z_j² per sample: keeps logits from growing without bound. */
export function logitPenalty(options: {weight?: Coefficient} = {}): LossFunction {
  const op = 'logitPenalty';
  coefficient(op, 'weight', options.weight, 1e-4);
  return (_yTrue: tf.Tensor, yPred: tf.Tensor) => {
    assertLogits(op, yPred);
    const w = coefficient(op, 'weight', options.weight, 1e-4);
    return tf.tidy(() => tf.mul(tf.mean(tf.square(yPred), 1), w));
  };
}

/** weight · logsumexp(z)² per sample (PaLM's z-loss): keeps the softmax normaliser near 1. */
export function zLoss(options: {weight?: Coefficient} = {}): LossFunction {
  const op = 'zLoss';
  coefficient(op, 'weight', options.weight, 1e-4);
  return (_yTrue: tf.Tensor, yPred: tf.Tensor) => {
    assertLogits(op, yPred);
    const w = coefficient(op, 'weight', options.weight, 1e-4);
    return tf.tidy(() => tf.mul(tf.square(tf.logSumExp(yPred, 1)), w));
  };
}
