/**
 * Per-sample cross-entropy of logits against class ids or (soft) targets,
 * with tfjs's label-smoothing convention target = (1 − ls)·y + ls/V, the
 * z-loss zLoss·lse² and MaxSup's α·(max z − mean z), shared by the losses of
 * this package. Class ids take the label logit with one gather per row,
 * never a one-hot, so large vocabularies cost O(B·V) only in the logsumexp.
 */
import * as tf from '@tensorflow/tfjs-core';
import {topOneSuppression} from '@sluice/core';
import {gatherPerRow} from '@sluice/core/internal';

import {isClassIds} from './validate';

export interface CeTerms {
  labelSmoothing: number;
  zLoss: number;
  maxSup: number;
  ignoreIndex: number|null;
}

/** Call inside tf.tidy; inputs already checked by checkLossInputs. */
export function perSampleCrossEntropy(yTrue: tf.Tensor, logits: tf.Tensor2D, o: CeTerms): tf.Tensor1D {
  const [b, v] = logits.shape;
  const lse = tf.logSumExp(logits, 1);
  let loss: tf.Tensor;
  let kept: tf.Tensor|null = null;
  if (isClassIds(yTrue, logits)) {
    const ids = tf.cast(tf.reshape(yTrue, [b]), 'int32') as tf.Tensor1D;
    if (o.ignoreIndex != null) kept = tf.notEqual(ids, tf.scalar(o.ignoreIndex, 'int32'));
    // An ignored id may be out of range (-100): gather a valid row instead, masked out below.
    const safe = kept != null ? tf.where(kept, ids, tf.zerosLike(ids)) : ids;
    const zy = tf.reshape(gatherPerRow(logits, tf.reshape(safe, [b, 1]) as tf.Tensor2D), [b]);
    loss = tf.sub(lse, tf.mul(zy, 1 - o.labelSmoothing));
    if (o.labelSmoothing > 0) loss = tf.sub(loss, tf.mul(tf.mean(logits, 1), o.labelSmoothing));
  } else {
    const y = tf.cast(yTrue, 'float32');
    const target = o.labelSmoothing > 0 ? tf.add(tf.mul(y, 1 - o.labelSmoothing), o.labelSmoothing / v) : y;
    // Σ t_j (lse − z_j) = lse·Σt − Σ t_j z_j: soft targets need not sum to 1.
    loss = tf.sub(tf.mul(lse, tf.sum(target, 1)), tf.sum(tf.mul(target, logits), 1));
  }
  if (o.zLoss > 0) loss = tf.add(loss, tf.mul(tf.square(lse), o.zLoss));
  if (o.maxSup > 0) loss = tf.add(loss, topOneSuppression(logits, o.maxSup));
  // where, not a multiply: an ignored sample's loss is 0 even if its logits hold a NaN.
  return (kept != null ? tf.where(kept, loss, tf.zerosLike(loss)) : loss) as tf.Tensor1D;
}
