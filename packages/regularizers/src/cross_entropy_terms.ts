/**
 * Per-sample cross-entropy of logits against class ids or (soft) targets,
 * with tfjs's label-smoothing convention target = (1 − ls)·y + ls/V and
 * z-loss·lse², shared by the losses of this package. Class ids take the
 * label logit by one gather per row, never a one-hot.
 */
import {gatherPerRow} from '@sluice/core';
import * as tf from '@tensorflow/tfjs-core';

export interface CeOptions {
  labelSmoothing: number;
  zLoss: number;
  ignoreIndex: number|null;
}

/** True when yTrue holds class ids ([B] or [B, 1]) rather than targets of the logits' shape. */
export function isClassIds(yTrue: tf.Tensor, yPred: tf.Tensor): boolean {
  return yTrue.rank === 1 || (yTrue.rank === 2 && yTrue.shape[1] === 1 && yPred.shape[1] !== 1);
}

export function perSampleCrossEntropy(yTrue: tf.Tensor, logits: tf.Tensor2D, o: CeOptions): tf.Tensor1D {
  const [b, v] = logits.shape;
  const lse = tf.logSumExp(logits, 1);
  let loss: tf.Tensor;
  let kept: tf.Tensor|null = null;
  if (isClassIds(yTrue, logits)) {
    const ids = tf.cast(tf.reshape(yTrue, [b]), 'int32') as tf.Tensor1D;
    if (o.ignoreIndex != null) kept = tf.notEqual(ids, tf.scalar(o.ignoreIndex, 'int32'));
    const safe = kept != null ? tf.where(kept, ids, tf.zerosLike(ids)) : ids;
    const zy = tf.reshape(gatherPerRow(logits, tf.reshape(safe, [b, 1]) as tf.Tensor2D), [b]);
    loss = tf.sub(lse, tf.mul(zy, 1 - o.labelSmoothing));
    if (o.labelSmoothing > 0) loss = tf.sub(loss, tf.mul(tf.mean(logits, 1), o.labelSmoothing));
  } else {
    if (yTrue.shape.join(',') !== logits.shape.join(',')) {
      throw new Error(`yTrue must be class ids [${b}] or targets of the logits' shape [${b},${v}], got shape ` +
                      `[${yTrue.shape.join(',')}]`);
    }
    const target = o.labelSmoothing > 0 ? tf.add(tf.mul(yTrue, 1 - o.labelSmoothing), o.labelSmoothing / v) : yTrue;
    // Σ t_j (lse − z_j) = lse·Σt − Σ t_j z_j: soft targets need not sum to 1.
    loss = tf.sub(tf.mul(lse, tf.sum(target, 1)), tf.sum(tf.mul(target, logits), 1));
  }
  if (o.zLoss > 0) loss = tf.add(loss, tf.mul(tf.square(lse), o.zLoss));
  // where, not a multiply: an ignored sample's loss is 0 even if its logits hold a NaN.
  return (kept != null ? tf.where(kept, loss, tf.zerosLike(loss)) : loss) as tf.Tensor1D;
}

