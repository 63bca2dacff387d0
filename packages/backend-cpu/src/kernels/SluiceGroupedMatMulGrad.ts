import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceGroupedMatMulGrad, SluiceGroupedMatMulGradInputs} from '@sluice/core';

import {groupedMatMulImpl, groupedWeightGradImpl} from './SluiceGroupedMatMul_impl';

/** Outputs [dx [M, K], dWeights [E, K, H]] of y = x · W_e per segment. */
export function sluiceGroupedMatMulGrad(args: {inputs: SluiceGroupedMatMulGradInputs, backend: MathBackendCPU}):
    TensorInfo[] {
  const {inputs: {dy, x, weights, expertOffsets}, backend} = args;
  const [m, k] = x.shape;
  const [e, , h] = weights.shape;
  const read = (t: TensorInfo) => backend.data.get(t.dataId).values;
  const g = read(dy) as Float32Array, offsets = read(expertOffsets) as Int32Array;
  // dx = dy · W_eᵀ: the forward with transposed weights, contracting over H.
  const dx = groupedMatMulImpl(g, read(weights) as Float32Array, offsets, m, h, e, k, h, true);
  const dw = groupedWeightGradImpl(read(x) as Float32Array, g, offsets, k, h, e);
  return [backend.makeTensorInfo([m, k], 'float32', dx), backend.makeTensorInfo([e, k, h], 'float32', dw)];
}

export const sluiceGroupedMatMulGradConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMulGrad,
  backendName: 'cpu',
  kernelFunc: sluiceGroupedMatMulGrad as unknown as KernelFunc,
};
