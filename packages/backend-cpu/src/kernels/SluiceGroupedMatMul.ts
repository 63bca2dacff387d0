import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceGroupedMatMul, SluiceGroupedMatMulAttrs, SluiceGroupedMatMulInputs} from '@sluice/core';

import {groupedMatMulImpl} from './SluiceGroupedMatMul_impl';

export function sluiceGroupedMatMul(args: {
  inputs: SluiceGroupedMatMulInputs,
  backend: MathBackendCPU,
  attrs: SluiceGroupedMatMulAttrs,
}): TensorInfo {
  const {inputs: {x, weights, expertOffsets}, backend, attrs: {transposeWeights}} = args;
  const [m, k] = x.shape;
  const [e, a, b] = weights.shape;
  const read = (t: TensorInfo) => backend.data.get(t.dataId).values;
  const y = groupedMatMulImpl(read(x) as Float32Array, read(weights) as Float32Array,
                              read(expertOffsets) as Int32Array, m, k, e, a, b, transposeWeights);
  return backend.makeTensorInfo([m, transposeWeights ? a : b], 'float32', y);
}

export const sluiceGroupedMatMulConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMul,
  backendName: 'cpu',
  kernelFunc: sluiceGroupedMatMul as unknown as KernelFunc,
};
