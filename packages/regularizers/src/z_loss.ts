/**
 * weight · logsumexp(z)² per sample (the z-loss of PaLM and ST-MoE): keeps the
 * softmax normaliser near 1, so logits stay in a range where float32 is exact.
 */
import * as tf from '@tensorflow/tfjs-core';

import {LossFunction} from './loss_function';
import {Coefficient} from './schedule';
import {assertLogits, checkCoefficient, checkOptions, coefficient} from './validate';

const OP = 'zLoss';

/** Ignores yTrue; see logitPenalty for adding it to a cross-entropy. */
export function zLoss(options: {weight?: Coefficient} = {}): LossFunction {
  checkOptions(OP, options, ['weight']);
  checkCoefficient(OP, 'weight', options.weight);
  return (_yTrue: tf.Tensor, yPred: tf.Tensor) => {
    assertLogits(OP, yPred);
    const w = coefficient(OP, 'weight', options.weight, 1e-4);
    return tf.tidy(() => tf.mul(tf.square(tf.logSumExp(yPred, 1)), w));
  };
}
