/**
 * Composite of `SluiceGroupedMatMul` (and its weight gradient) from stock
 * ops. With the offsets on the host (cheap to read on cpu, webgl,
 * tensorflow), each expert's row segment is sliced and multiplied by its own
 * matrix. Where they cannot be read synchronously (GPU-resident on webgpu),
 * every expert's product is masked to its segment instead: E times the
 * arithmetic, but no readback.
 */
import {add, cast, concat, expandDims, greaterEqual, less, logicalAnd, matMul, mul, range, reshape, slice, stack,
        Tensor, Tensor1D, Tensor2D, Tensor3D, tidy, zeros} from '@tensorflow/tfjs-core';

import {hostValues} from '../ops/host_values';
import {emptyResult, stopGradient} from '../ops/tape_util';

function weightOf(weights: Tensor3D, e: number): Tensor2D {
  const [, a, b] = weights.shape;
  return reshape(slice(weights, [e, 0, 0], [1, a, b]), [a, b]) as Tensor2D;
}

/** [M, 1] float mask of the rows of expert e. */
function segmentMask(expertOffsets: Tensor1D, e: number, m: number): Tensor {
  const rows = range(0, m, 1, 'int32');
  const start = slice(expertOffsets, e, 1), end = slice(expertOffsets, e + 1, 1);
  return expandDims(cast(logicalAnd(greaterEqual(rows, start), less(rows, end)), 'float32'), 1);
}

export function groupedMatMulComposite(x: Tensor2D, weights: Tensor3D, expertOffsets: Tensor1D,
                                       transposeWeights: boolean): Tensor2D {
  const [m] = x.shape;
  const [e, a, b] = weights.shape;
  const h = transposeWeights ? a : b;
  if (m === 0) return emptyResult([0, h], [x, weights]) as Tensor2D;
  const offsets = hostValues(expertOffsets);
  return tidy(() => {
    if (offsets != null) {
      const parts: Tensor[] = [];
      for (let i = 0; i < e; ++i) {
        const rows = offsets[i + 1] - offsets[i];
        if (rows === 0) continue;
        parts.push(matMul(slice(x, [offsets[i], 0], [rows, x.shape[1]]), weightOf(weights, i), false, transposeWeights));
      }
      return (parts.length === 1 ? parts[0] : concat(parts, 0)) as Tensor2D;
    }
    const bounds = stopGradient(expertOffsets);  // selects only
    let y: Tensor = zeros([m, h]);
    for (let i = 0; i < e; ++i) {
      y = add(y, mul(segmentMask(bounds, i, m), matMul(x, weightOf(weights, i), false, transposeWeights)));
    }
    return y as Tensor2D;
  });
}

/** dWeights [E, K, H] of y = x · W_e per segment: W_e gets x_segᵀ · dy_seg (0 for empty experts). */
export function groupedWeightGradComposite(x: Tensor2D, dy: Tensor2D, expertOffsets: Tensor1D, e: number): Tensor3D {
  const [m, k] = x.shape;
  const h = dy.shape[1];
  if (m === 0) return zeros([e, k, h]) as Tensor3D;
  const offsets = hostValues(expertOffsets);
  return tidy(() => {
    const grads: Tensor[] = [];
    for (let i = 0; i < e; ++i) {
      if (offsets != null) {
        const rows = offsets[i + 1] - offsets[i];
        grads.push(rows === 0 ? zeros([k, h]) :
                                matMul(slice(x, [offsets[i], 0], [rows, k]), slice(dy, [offsets[i], 0], [rows, h]),
                                       true, false));
      } else {
        grads.push(matMul(mul(segmentMask(stopGradient(expertOffsets), i, m), x), dy, true, false));
      }
    }
    return stack(grads) as Tensor3D;
  });
}

