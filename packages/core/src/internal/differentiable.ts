/**
 * The few shape and reduction steps ops take around their kernels, each with
 * its gradient written out through `customGrad`, so forward and backward run
 * with `@tensorflow/tfjs-core` and one backend alone: tfjs-core registers no
 * gradient of its own (Reshape, Sum, RealDiv, ...) unless the user imports
 * `@tensorflow/tfjs` or `register_all_gradients`. The backward passes only
 * run forward kernels.
 */
import {concat, customGrad, fill, GradSaveFunc, mul, reshape, Scalar, scalar, slice, Tensor, where, zeros, zerosLike} from '@tensorflow/tfjs-core';

import {sumAll} from './sum_all';

/** `reshape(x, shape)`, its gradient the reshape back. */
export function reshapeDifferentiable<T extends Tensor>(x: Tensor, shape: number[]): T {
  const inputShape = x.shape;
  const f = customGrad((a: Tensor|GradSaveFunc) => ({
                         value: reshape(a as Tensor, shape),
                         gradFunc: (dy: Tensor) => reshape(dy, inputShape),
                       }));
  return f(x) as T;
}

/** `scale · Σ x` for a constant `scale` (a scalar tensor, not differentiated). */
export function scaledSum(x: Tensor, scale: Scalar): Scalar {
  // Only the input's shape is read in the backward; the scale is saved (the op's scope disposes it).
  const shape = x.shape, size = x.size;
  const f = customGrad((a: Tensor|GradSaveFunc, save: Tensor|GradSaveFunc) => {
    (save as GradSaveFunc)([scale]);
    return {
      value: mul(sumAll(a as Tensor), scale) as Scalar,
      // An empty x gets an empty gradient without running a kernel on it (webgpu rejects zero-size bindings).
      gradFunc: (dy: Tensor, saved: Tensor[]) => size === 0 ? zeros(shape) : mul(fill(shape, 1), mul(dy, saved[0])),
    };
  });
  return f(x) as Scalar;
}

/** `coefficient ⊙ x²` where `mask`, else 0, for constants `coefficient` and bool `mask` of x's shape. */
export function weightedSquare(x: Tensor, coefficient: Tensor, mask: Tensor): Tensor {
  const f = customGrad((a: Tensor|GradSaveFunc, save: Tensor|GradSaveFunc) => {
    const t = a as Tensor;
    (save as GradSaveFunc)([t, coefficient, mask]);
    // where, not a product with the mask: 0 · Inf would be NaN.
    return {
      value: where(mask, mul(coefficient, mul(t, t)), zerosLike(t)),
      gradFunc: (dy: Tensor, [saved, c, m]: Tensor[]) =>
          where(m, mul(dy, mul(c, mul(saved, scalar(2)))), zerosLike(saved)),
    };
  });
  return f(x);
}

/** x [..., T] without its last position along the last axis: [..., T − 1]; the gradient pads it with 0. */
export function dropLastPosition(x: Tensor): Tensor {
  const shape = x.shape;
  const last = shape.length - 1;
  const size = shape.map((s, i) => i === last ? s - 1 : s);
  const f = customGrad((a: Tensor|GradSaveFunc) => ({
                         value: slice(a as Tensor, shape.map(() => 0), size),
                         gradFunc: (dy: Tensor) =>
                             concat([dy, zeros(shape.map((s, i) => i === last ? 1 : s))], last),
                       }));
  return f(x);
}

/** The rows of x [R, N] as R tensors [N], each with its own gradient (dy in its row, zeros elsewhere). */
export function unstackDifferentiable(x: Tensor): Tensor[] {
  const [rows, n] = x.shape;
  const out: Tensor[] = [];
  for (let r = 0; r < rows; ++r) {
    const f = customGrad((a: Tensor|GradSaveFunc) => ({
                           value: reshape(slice(a as Tensor, [r, 0], [1, n]), [n]),
                           gradFunc: (dy: Tensor) => {
                             const parts = [zeros([r, n]), reshape(dy, [1, n]), zeros([rows - r - 1, n])];
                             return concat(parts.filter(p => p.shape[0] > 0), 0);
                           },
                         }));
    out.push(f(x));
  }
  return out;
}
