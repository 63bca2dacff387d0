/**
 * SluiceGroupedMatMul for tfjs-node's 'tensorflow' backend: one TensorFlow
 * MatMul per non-empty expert over its row segment (offsets read on the
 * host), the products concatenated in expert order.
 */
import {KernelConfig, KernelFunc} from '@tensorflow/tfjs-core';
import {SluiceGroupedMatMul, SluiceGroupedMatMulAttrs, SluiceGroupedMatMulInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

import {groupedMatMulTf} from './grouped_mat_mul_shared';

export const sluiceGroupedMatMul: KernelFunc = ({inputs, backend, attrs}) => {
  const {x, weights, expertOffsets} = inputs as unknown as SluiceGroupedMatMulInputs;
  const {transposeWeights} = attrs as unknown as SluiceGroupedMatMulAttrs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  return groupedMatMulTf(ops, x, weights, ops.readInts(expertOffsets), transposeWeights);
};

export const sluiceGroupedMatMulConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMul,
  backendName: 'tensorflow',
  kernelFunc: sluiceGroupedMatMul,
};
