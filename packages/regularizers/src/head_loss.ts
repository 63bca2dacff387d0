/**
 * `headLoss`: the loss to compile a model whose output is a
 * linearCrossEntropyHead's per-token losses with: their mean over the tokens
 * that are not ignored (PyTorch's and linearCrossEntropy's 'mean').
 *
 * Ignored tokens hold loss 0, but a kept token can hold 0 too (a confident
 * prediction underflows lse − z_y to exactly 0 in float32), so the count of
 * kept tokens cannot be read off the losses. The head remembers, per output
 * tensor, the labels it was applied to; tfjs-layers hands that very tensor to
 * the loss as yPred (model.fit, evaluate), so yTrue can be anything of the
 * output's shape: a dummy, or the labels themselves.
 */
import * as tf from '@tensorflow/tfjs-core';
import {describeValue, fail} from '@sluice/core/internal';

interface KeptLabels {
  labels: tf.Tensor;
  ignoreIndex: number;
}

// Keyed by the head's output tensor: entries go when the output is garbage-collected.
const LABELS_OF = new WeakMap<tf.Tensor, KeptLabels>();

/** Called by the head for each [hidden, labels] output (the labels belong to the caller; nothing is copied). */
export function rememberLabels(losses: tf.Tensor, labels: tf.Tensor, ignoreIndex: number) {
  LABELS_OF.set(losses, {labels, ignoreIndex});
}

/**
 * Mean of a linearCrossEntropyHead's per-token losses over non-ignored tokens
 * (0 when all are ignored). `yTrue` is not read: pass any tensor of the
 * losses' shape to model.fit (the labels, or zeros).
 */
export function headLoss(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  const kept = LABELS_OF.get(yPred);
  if (kept == null) {
    fail('headLoss', 'yPred', 'the per-token losses a linearCrossEntropyHead returned for [hidden, labels]',
         `${describeValue(yPred)} that no head returned`);
  }
  if (kept.labels.isDisposed) {
    fail('headLoss', 'yPred', 'losses whose labels are still alive (the head counts the kept tokens from them)',
         'losses whose labels tensor was disposed');
  }
  void yTrue;
  return tf.tidy(() => {
    const count = tf.sum(tf.cast(tf.notEqual(kept.labels, tf.scalar(kept.ignoreIndex, 'int32')), 'float32'));
    return tf.div(tf.sum(yPred), tf.maximum(count, 1)) as tf.Scalar;
  });
}
