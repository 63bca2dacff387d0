import {customGrad, GradSaveFunc, Tensor, Tensor1D, Tensor2D, zeros} from '@tensorflow/tfjs-core';

import {combineRows, emptyResult, expertCombineBackward, stopGradient} from '../internal';

/**
 * out[t] = Σ_s gates[t, s] · y[rows of (t, s)]: a gather of the gates and a
 * segment sum by token, empty slots (sourceRows -1) skipped. One customGrad
 * with the kernel's own gradient formulas, so it needs no stock-op gradient.
 */
export function expertCombineComposite(y: Tensor2D, sourceRows: Tensor1D, gates: Tensor2D): Tensor2D {
  const [n] = gates.shape;
  const h = y.shape[1];
  // No kernel on empty tensors (webgpu rejects zero-size bindings).
  if (y.shape[0] === 0 || n === 0) return emptyResult([n, h], [y, gates]) as Tensor2D;
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const [ys, g, rows] = args as [Tensor2D, Tensor2D, Tensor1D];
    (args[3] as GradSaveFunc)([ys, g, rows]);
    return {
      value: combineRows(ys, rows, g),
      gradFunc: (dOut: Tensor, saved: Tensor[]) => {
        const [sy, sg, sr] = saved as [Tensor2D, Tensor2D, Tensor1D];
        return [...expertCombineBackward(dOut as Tensor2D, sy, sr, sg), zeros(sr.shape)];
      },
    };
  });
  // Row indices only select: off the tape, or tfjs would ask them for a (float) gradient.
  return f(y, gates, stopGradient(sourceRows)) as Tensor2D;
}
