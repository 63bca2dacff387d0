import {customGrad, expandDims, gather, GradSaveFunc, scatterND, Tensor, Tensor1D, zeros} from '@tensorflow/tfjs-core';

import {emptyResult, stopGradient} from './tape_util';

/**
 * out[s] = Σ values[i] over the i with ids[i] = s, for s < numSegments.
 * Same result as tf.unsortedSegmentSum, but one O(rows) scatter-add
 * (tf.scatterND sums duplicate indices) instead of tfjs-cpu's
 * segment-by-segment masks, which cost O(numSegments · rows): 14 s for an
 * embedding gradient of 4096 words × 512 tokens. Differentiable w.r.t.
 * values (the gradient is a gather).
 */
export function segmentSum(values: Tensor, ids: Tensor1D, numSegments: number): Tensor {
  const shape = [numSegments, ...values.shape.slice(1)];
  if (values.size === 0) return emptyResult(shape, [values]);
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const [v, i] = args as [Tensor, Tensor1D];
    const save = args[2] as GradSaveFunc;
    save([i]);
    return {
      value: scatterND(expandDims(i, 1), v, shape),
      gradFunc: (dy: Tensor, [saved]: Tensor[]) => [gather(dy, saved), zeros(saved.shape)],
    };
  });
  // ids enter as an input so backward can still reach them; they only select.
  return f(values, stopGradient(ids));
}

/** table[ids] with a scatter-add gradient (see segmentSum); tf.gather's own goes through tf.unsortedSegmentSum. */
export function embeddingLookup(table: Tensor, ids: Tensor1D): Tensor {
  const rows = table.shape[0];
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const [t, i] = args as [Tensor, Tensor1D];
    const save = args[2] as GradSaveFunc;
    save([i]);
    return {
      value: gather(t, i),
      gradFunc: (dy: Tensor, [saved]: Tensor[]) => [segmentSum(dy, saved as Tensor1D, rows),
                                                     zeros(saved.shape)],
    };
  });
  return f(table, stopGradient(ids));
}
