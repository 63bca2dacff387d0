/**
 * Pieces shared by the 'tensorflow' kernels of SluiceGroupedMatMul and its
 * gradient. The expert offsets ([E + 1] int32) are read on the host; one
 * SplitV cuts the rows into expert segments and one Unpack the weights into
 * per-expert matrices (both along dimension 0 of contiguous tensors, which
 * TensorFlow serves as views rather than copies), then each non-empty
 * expert runs one MatMul; empty experts cost nothing. Two splitting ops per
 * call instead of E slices keeps the per-op overhead out of the loop.
 */
import {dispose, Tensor, TensorInfo, tidy} from '@tensorflow/tfjs-core';

import type {TfOps} from '../tf_ops';

import {concatBlocks} from './linear_cross_entropy_shared';

/** Rows per expert from the offsets. */
export function segmentSizes(offsets: Int32Array): number[] {
  return Array.from({length: offsets.length - 1}, (_, e) => offsets[e + 1] - offsets[e]);
}

/** y [M, H] = x_seg · W_e per expert segment (W_eᵀ with `transposeWeights`, weights then [E, H, K]). */
export function groupedMatMulTf(ops: TfOps, x: TensorInfo, weights: TensorInfo, offsets: Int32Array,
                                transposeWeights: boolean): Tensor {
  const m = x.shape[0];
  const [, a, b] = weights.shape;
  const h = transposeWeights ? a : b;
  if (m === 0) return ops.fill([0, h], 0);
  const sizes = segmentSizes(offsets);
  return tidy(() => {
    const segments = ops.splitRows(x, sizes);
    const mats = ops.unstack(weights);
    const parts: Tensor[] = [];
    sizes.forEach((rows, e) => {
      if (rows > 0) parts.push(ops.matMul(segments[e], mats[e], false, transposeWeights));
    });
    dispose([...segments, ...mats]);
    return concatBlocks(ops, parts, 0);
  });
}
