/**
 * SluiceGroupedMatMulGrad for tfjs-node's 'tensorflow' backend, both
 * gradients of y = x_seg · W_e from one read of the offsets:
 * dx = dy_seg · W_eᵀ (the forward with transposed weights, MatMul's
 * transpose_b) and dW_e = x_segᵀ · dy_seg (transpose_a, no transposed copy),
 * zeros for empty experts, concatenated into [E, K, H].
 */
import {dispose, KernelConfig, KernelFunc, Tensor, tidy} from '@tensorflow/tfjs-core';
import {SluiceGroupedMatMulGrad, SluiceGroupedMatMulGradInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

import {groupedMatMulTf, segmentSizes} from './grouped_mat_mul_shared';
import {concatBlocks} from './linear_cross_entropy_shared';

/** Outputs [dx [M, K], dWeights [E, K, H]]. */
export const sluiceGroupedMatMulGrad: KernelFunc = ({inputs, backend}) => {
  const {dy, x, weights, expertOffsets} = inputs as unknown as SluiceGroupedMatMulGradInputs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const [m, k] = x.shape;
  const [e, , h] = weights.shape;
  if (m === 0) {
    return [ops.fill([0, k], 0), ops.fill([e, k, h], 0)];
  }
  const offsets = ops.readInts(expertOffsets);
  const dx = groupedMatMulTf(ops, dy, weights, offsets, true);
  const dw = tidy(() => {
    const sizes = segmentSizes(offsets);
    const xs = ops.splitRows(x, sizes), dys = ops.splitRows(dy, sizes);
    const parts: Tensor[] = sizes.map((rows, i) => rows === 0 ? ops.fill([k, h], 0) :
                                                                ops.matMul(xs[i], dys[i], true, false));
    dispose([...xs, ...dys]);
    return ops.reshape(concatBlocks(ops, parts, 0), [e, k, h]);  // [E·K, H] → [E, K, H]
  });
  return [dx, dw];
};

export const sluiceGroupedMatMulGradConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMulGrad,
  backendName: 'tensorflow',
  kernelFunc: sluiceGroupedMatMulGrad,
};
