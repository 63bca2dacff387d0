/**
 * Composite of `SluiceGroupedMatMul` (and its weight gradient) from stock
 * ops. With the offsets on the host (cheap to read on cpu, webgl,
 * tensorflow), each expert's row segment is sliced and multiplied by its own
 * matrix. Where they cannot be read synchronously (GPU-resident on webgpu),
 * every expert's product is masked to its segment instead: E times the
 * arithmetic, but no readback. The result is one customGrad whose backward
 * is two more such products (dx = dy·W_eᵀ, dW_e = x_segᵀ·dy_seg), so no
 * stock-op gradient is needed.
 */
import {add, cast, concat, customGrad, expandDims, GradSaveFunc, greaterEqual, less, logicalAnd, matMul, mul, range, reshape, slice, split,
        stack, unstack,
        Tensor, Tensor1D, Tensor2D, Tensor3D, tidy, zeros} from '@tensorflow/tfjs-core';

import {emptyResult, hostValues, stopGradient} from '../internal';

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
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const [xs, w, off] = args as [Tensor2D, Tensor3D, Tensor1D];
    (args[3] as GradSaveFunc)([xs, w, off]);
    return {
      value: groupedProduct(xs, w, off, transposeWeights),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sw, so] = saved as [Tensor2D, Tensor3D, Tensor1D];
        const g = dy as Tensor2D;
        return transposeWeights ?
            [groupedProduct(g, sw, so, false), groupedWeightGradComposite(g, sx, so, e), zeros(so.shape)] :
            [groupedProduct(g, sw, so, true), groupedWeightGradComposite(sx, g, so, e), zeros(so.shape)];
      },
    };
  });
  // The offsets only select: a handle the tape does not know.
  return f(x, weights, stopGradient(expertOffsets)) as Tensor2D;
}

/** y = x · W_e per segment (forward only). */
function groupedProduct(x: Tensor2D, weights: Tensor3D, expertOffsets: Tensor1D, transposeWeights: boolean):
    Tensor2D {
  const [m] = x.shape;
  const [e, a, b] = weights.shape;
  const h = transposeWeights ? a : b;
  const offsets = hostValues(expertOffsets);
  return tidy(() => {
    if (offsets != null) {
      // One split and one unstack, not a slice per expert: every op on the
      // tape keeps a handle on its input, and E slices of the whole weight
      // tensor would hold (and be counted as) E copies of it.
      const sizes = Array.from({length: e}, (_, i) => offsets[i + 1] - offsets[i]);
      // With one expert, no split or unstack: tfjs's SplitV and Unpack gradients
      // get a lone dy (not an array) for a single output and throw in concat/stack.
      const segments = e === 1 ? [x] : split(x, sizes, 0);
      const mats = e === 1 ? [reshape(weights, [a, b]) as Tensor2D] : unstack(weights);
      const parts: Tensor[] = [];
      for (let i = 0; i < e; ++i) {
        if (sizes[i] > 0) parts.push(matMul(segments[i], mats[i], false, transposeWeights));
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
    const sizes = offsets == null ? [] : Array.from({length: e}, (_, i) => offsets[i + 1] - offsets[i]);
    const xs = offsets == null ? [] : split(x, sizes, 0), dys = offsets == null ? [] : split(dy, sizes, 0);
    for (let i = 0; i < e; ++i) {
      if (offsets != null) {
        grads.push(sizes[i] === 0 ? zeros([k, h]) : matMul(xs[i], dys[i], true, false));
      } else {
        grads.push(matMul(mul(segmentMask(stopGradient(expertOffsets), i, m), x), dy, true, false));
      }
    }
    return stack(grads) as Tensor3D;
  });
}

