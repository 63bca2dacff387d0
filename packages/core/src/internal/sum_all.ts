import {pad, reshape, Scalar, sum, Tensor} from '@tensorflow/tfjs-core';

/**
 * Sum of every element, also for empty tensors on webgl, whose Sum kernel
 * fails on them (it reshapes to [NaN, 0]): an empty input is padded with one
 * zero first, which keeps it on the gradient tape.
 */
export function sumAll(x: Tensor): Scalar {
  return (x.size > 0 ? sum(x) : sum(pad(reshape(x, [0]), [[0, 1]]))) as Scalar;
}
