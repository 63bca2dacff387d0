/**
 * Causal multi-head attention with grouped key/value heads, as transformers'
 * eager attention computes it: softmax(q·kᵀ · head_dim^−½ + causal mask)·v,
 * query head h reading key/value head ⌊h / (heads / kvHeads)⌋ (repeat_kv).
 * Instead of repeating k and v, the queries of each KV group are stacked
 * along the time axis, so one batched matMul serves the whole group.
 */
import * as tf from '@tensorflow/tfjs-core';

const MASKED = -1e9;  // exp(MASKED − max) is exactly 0 in float32, as transformers' finfo.min mask gives

/** Additive causal mask [rep·T, T] (row i·T + t sees positions ≤ t), kept: the caller disposes it. */
export function causalMask(length: number, rep: number): tf.Tensor2D {
  const values = new Float32Array(rep * length * length);
  for (let g = 0; g < rep; ++g) {
    for (let t = 0; t < length; ++t) values.fill(MASKED, (g * length + t) * length + t + 1, (g * length + t + 1) * length);
  }
  return tf.keep(tf.tensor2d(values, [rep * length, length]));
}

/** q [B, H, T, hd], k and v [B, KV, T, hd] → [B, T, H·hd] (heads concatenated in order, as o_proj reads them). */
export function groupedQueryAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, h, t, hd] = q.shape, kv = k.shape[1], rep = h / kv;
    const grouped = tf.reshape(q, [b, kv, rep * t, hd]);
    const scores = tf.add(tf.mul(tf.matMul(grouped, k, false, true), 1 / Math.sqrt(hd)), mask);
    const out = tf.reshape(tf.matMul(tf.softmax(scores), v), [b, h, t, hd]);
    return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, t, h * hd]) as tf.Tensor3D;
  });
}
