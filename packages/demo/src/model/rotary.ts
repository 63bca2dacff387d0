/**
 * Rotary position embeddings in transformers' convention (Llama, Mixtral,
 * Glm4Moe): inverse frequencies 1 / θ^(2i/r) for i < r/2, cos and sin of
 * position · frequency repeated over both halves, and
 * x_rot · cos + rotate_half(x_rot) · sin with rotate_half(x) = [−x₂, x₁].
 * With partial rotary (Glm4Moe) only the first r dims of each head rotate.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface RotaryTables {
  cos: tf.Tensor2D;  // [T, r]
  sin: tf.Tensor2D;  // [T, r]
}

/**
 * cos/sin [T, r] for positions 0..T−1, rounded to float32 at each step as
 * transformers computes them (float32 inverse frequencies, float32 products).
 */
export function rotaryTableValues(length: number, rotaryDim: number, theta: number):
    {cos: Float32Array, sin: Float32Array} {
  const half = rotaryDim / 2, f = Math.fround;
  const invFreq = Array.from({length: half}, (_, i) => f(1 / f(Math.pow(theta, f(f(2 * i) / rotaryDim)))));
  const cos = new Float32Array(length * rotaryDim), sin = new Float32Array(length * rotaryDim);
  for (let t = 0; t < length; ++t) {
    for (let i = 0; i < half; ++i) {
      const angle = f(t * invFreq[i]);
      cos[t * rotaryDim + i] = cos[t * rotaryDim + half + i] = Math.cos(angle);
      sin[t * rotaryDim + i] = sin[t * rotaryDim + half + i] = Math.sin(angle);
    }
  }
  return {cos, sin};
}

/** Kept tensors (they outlive the step's tidy); the caller disposes them. */
export function rotaryTables(length: number, rotaryDim: number, theta: number): RotaryTables {
  const {cos, sin} = rotaryTableValues(length, rotaryDim, theta);
  return {cos: tf.keep(tf.tensor2d(cos, [length, rotaryDim])), sin: tf.keep(tf.tensor2d(sin, [length, rotaryDim]))};
}

/** x [B, heads, T, headDim]: rotates the first r dims of each head by its position, passes the rest. */
export function applyRotary(x: tf.Tensor4D, tables: RotaryTables): tf.Tensor4D {
  return tf.tidy(() => {
    const headDim = x.shape[3], r = tables.cos.shape[1];
    const rot = r === headDim ? x : tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, r]);
    const [x1, x2] = tf.split(rot, 2, 3);
    const rotated = tf.add(tf.mul(rot, tables.cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), tables.sin));
    return (r === headDim ? rotated : tf.concat([rotated, tf.slice(x, [0, 0, 0, r], [-1, -1, -1, -1])], 3)) as
        tf.Tensor4D;
  });
}
