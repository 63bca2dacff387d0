import {expandDims, floorDiv, mul, reshape, scalar, Tensor1D, Tensor2D} from '@tensorflow/tfjs-core';

import {embeddingLookup, emptyResult, segmentSum, stopGradient} from '../internal';

/** out[t] = Σ_s gates[t, s] · y[rows of (t, s)]: a gather of the gates and a segment sum by token. */
export function expertCombineComposite(y: Tensor2D, sourceRows: Tensor1D, gates: Tensor2D): Tensor2D {
  const [n, k] = gates.shape;
  const h = y.shape[1];
  // No kernel on empty tensors (webgpu rejects zero-size bindings).
  if (y.shape[0] === 0 || n === 0) return emptyResult([n, h], [y, gates]) as Tensor2D;
  // Row indices only select: off the tape, or tfjs would ask them for a (float) gradient.
  const rows = stopGradient(sourceRows);
  const g = embeddingLookup(reshape(gates, [n * k]), rows);
  return segmentSum(mul(y, expandDims(g, 1)), floorDiv(rows, scalar(k, 'int32')) as Tensor1D, n) as Tensor2D;
}
