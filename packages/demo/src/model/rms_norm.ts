/**
 * RMSNorm as transformers' MixtralRMSNorm / Glm4MoeRMSNorm compute it in
 * float32: x · rsqrt(mean(x²) + eps) · weight over the last axis.
 */
import * as tf from '@tensorflow/tfjs-core';

export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), weight));
}
