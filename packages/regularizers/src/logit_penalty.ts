/** weight · mean_j z_j² per sample: keeps logits from growing without bound. */
import * as tf from '@tensorflow/tfjs-core';

import {LossFunction} from './loss_function';
import {Coefficient} from './schedule';
import {assertLogits, checkCoefficient, checkOptions, coefficient} from './validate';

const OP = 'logitPenalty';

/**
 * Ignores yTrue (any value), so it can be added to another loss in a custom
 * compile loss: `(y, z) => tf.add(ce(y, z), logitPenalty({weight: 1e-3})(y, z))`.
 */
export function logitPenalty(options: {weight?: Coefficient} = {}): LossFunction {
  checkOptions(OP, options, ['weight']);
  checkCoefficient(OP, 'weight', options.weight);
  return (_yTrue: tf.Tensor, yPred: tf.Tensor) => {
    assertLogits(OP, yPred);
    const w = coefficient(OP, 'weight', options.weight, 1e-4);
    return tf.tidy(() => tf.mul(tf.mean(tf.square(yPred), 1), w));
  };
}
