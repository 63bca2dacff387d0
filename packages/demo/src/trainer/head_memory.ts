/**
 * Peak tracked memory and time of one forward + backward of a classifier
 * head, naive (matMul + softmaxCrossEntropy over the N×V logits) against
 * fused linearCrossEntropy. Shared by the trainer's report and the playground.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy} from '@sluice/core';
import {peakBytesDuring} from '@sluice/core/testing/peak_bytes';

export interface MemoryRow {
  variant: string;
  peakBytes: number;
  ms: number;
}

export const NAIVE = 'naive: matMul + softmaxCrossEntropy';
export const FUSED = 'fused linearCrossEntropy';

/** Peaks of the naive and the fused head (`which` picks; the naive one holds N×V logits several times). */
export async function headMemory(n: number, d: number, v: number, which: 'both'|'fused' = 'both'):
    Promise<MemoryRow[]> {
  const e = tf.randomNormal([n, d], 0, 1, 'float32', 1) as tf.Tensor2D;
  const c = tf.randomNormal([v, d], 0, 1 / Math.sqrt(d), 'float32', 2) as tf.Tensor2D;
  const y = tf.randomUniform([n], 0, v, 'int32', 3) as tf.Tensor1D;
  const variants: Array<[string, () => tf.Tensor[]]> = [
    [NAIVE, () => tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
        tf.losses.softmaxCrossEntropy(tf.oneHot(y, v), tf.matMul(ee, cc, false, true)) as tf.Scalar)([e, c])],
    [FUSED, () => tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
        linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y) as tf.Scalar)([e, c])],
  ];
  const rows: MemoryRow[] = [];
  for (const [variant, run] of variants.filter(([name]) => which === 'both' || name === FUSED)) {
    const t0 = performance.now();
    const {peakBytes} = await peakBytesDuring(async () => {
      const grads = run();
      await Promise.all(grads.map(g => g.data()));
      tf.dispose(grads);
    });
    rows.push({variant, peakBytes, ms: performance.now() - t0});
  }
  tf.dispose([e, c, y]);
  return rows;
}
