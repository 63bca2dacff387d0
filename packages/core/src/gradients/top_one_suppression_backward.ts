import {expandDims, mul, oneHot, scalar, Tensor, Tensor1D, Tensor2D, zeros} from '@tensorflow/tfjs-core';

/**
 * dLogits [N, V] of `alpha · (max − mean)` per row: α·dy·(onehot(argmax) − 1/V).
 * Shared by the kernel's gradient and the composite, so both send a tie to
 * the first index (tf.max's own gradient would split it over every maximum).
 * Two elementwise passes: a oneHot whose on/off values carry ±1/V, then the
 * per-row scale.
 */
export function topOneSuppressionBackward(dPenalty: Tensor, argmax: Tensor, vocabSize: number,
                                          alpha: number): Tensor2D {
  const n = argmax.shape[0];
  if (vocabSize === 1 || n === 0) {
    // V = 1: max = mean, the penalty is constant (tf.oneHot also needs depth >= 2).
    // N = 0: no kernel may run on an empty tensor; webgpu rejects zero-size
    // bindings and drops the whole command batch with them.
    return zeros([n, vocabSize]);
  }
  const centered = oneHot(argmax as Tensor1D, vocabSize, 1 - 1 / vocabSize, -1 / vocabSize, 'float32');
  return mul(centered, expandDims(mul(dPenalty, scalar(alpha)), 1)) as Tensor2D;
}
