import {op, Tensor1D, Tensor2D, Tensor3D, TensorLike} from '@tensorflow/tfjs-core';

import {assertTensor, fail, hostValues, runKernelOrComposite, toTensor} from '../internal';
import {SluiceGroupedMatMul, SluiceGroupedMatMulAttrs, SluiceGroupedMatMulInputs} from '../kernel_names';

const OP = 'groupedMatMul';

/** Offsets must start at 0, never decrease and end at M (checked when they can be read cheaply). */
function assertOffsets(expertOffsets: Tensor1D, rows: number) {
  const o = hostValues(expertOffsets);
  if (o == null) return;
  if (o[0] !== 0) fail(OP, 'expertOffsets[0]', '0', String(o[0]));
  for (let e = 1; e < o.length; ++e) {
    if (o[e] < o[e - 1]) fail(OP, `expertOffsets[${e}]`, `>= expertOffsets[${e - 1}] = ${o[e - 1]}`, String(o[e]));
  }
  if (o[o.length - 1] !== rows) {
    fail(OP, `expertOffsets[${o.length - 1}]`, `the number of rows of x (${rows})`, String(o[o.length - 1]));
  }
}

export function groupedMatMulImpl(x: Tensor2D, weights: Tensor3D, expertOffsets: Tensor1D,
                                  transposeWeights: boolean): Tensor2D {
  const attrs: SluiceGroupedMatMulAttrs = {transposeWeights};
  const inputs: SluiceGroupedMatMulInputs = {x, weights, expertOffsets};
  return runKernelOrComposite(SluiceGroupedMatMul, inputs, attrs)[0] as Tensor2D;
}

function groupedMatMul_(xIn: Tensor2D|TensorLike, weightsIn: Tensor3D|TensorLike,
                        expertOffsetsIn: Tensor1D|TensorLike): Tensor2D {
  const x = toTensor(OP, 'x', xIn, 'float32', '[M, D]') as Tensor2D;
  const weights = toTensor(OP, 'weights', weightsIn, 'float32', '[E, D, H]') as Tensor3D;
  const expertOffsets = toTensor(OP, 'expertOffsets', expertOffsetsIn, 'int32', '[E + 1]') as Tensor1D;
  assertTensor(OP, 'x', x, 2, ['float32'], '[M, D]');
  assertTensor(OP, 'weights', weights, 3, ['float32'], '[E, D, H]');
  assertTensor(OP, 'expertOffsets', expertOffsets, 1, ['int32'], '[E + 1]');
  const [e, d] = weights.shape;
  if (x.shape[1] !== d) {
    fail(OP, 'weights', `of shape [E, ${x.shape[1]}, H] (D from x)`, `shape [${weights.shape.join(',')}]`);
  }
  if (expertOffsets.shape[0] !== e + 1) {
    fail(OP, 'expertOffsets', `of shape [${e + 1}] (E + 1 from weights)`, `shape [${expertOffsets.shape.join(',')}]`);
  }
  assertOffsets(expertOffsets, x.shape[0]);
  return groupedMatMulImpl(x, weights, expertOffsets, false);
}

/**
 * Per-expert matmul over expert-grouped rows: y[r] = x[r] · weights[e] for
 * the rows r ∈ [expertOffsets[e], expertOffsets[e+1]). One call for all
 * experts; empty and tiny segments cost nothing extra. Differentiable w.r.t.
 * x and weights.
 *
 * ```js
 * // w1: [E, D, H], one weight matrix per expert
 * const h = groupedMatMul(dispatched, w1, expertOffsets);
 * ```
 */
export const groupedMatMul = op({groupedMatMul_}) as
    (x: Tensor2D|TensorLike, weights: Tensor3D|TensorLike, expertOffsets: Tensor1D|TensorLike) => Tensor2D;
