import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceGroupedMatMul, SluiceGroupedMatMulAttrs, SluiceGroupedMatMulInputs} from '@sluice/core';

import {runGuarded} from '../gpu_scratch';
import {WebGPUBackend} from '../internal';
import {deviceBudget} from '../device_budget';
import {runGroupedMatMul} from '../grouped_mat_mul_webgpu';

/** y [M, H] = x[r] · W[e] (W[e]ᵀ when transposed) over the rows r of each expert e. */
export function sluiceGroupedMatMulWebGPU(args: {
  inputs: SluiceGroupedMatMulInputs,
  backend: WebGPUBackend,
  attrs: SluiceGroupedMatMulAttrs,
}): TensorInfo {
  const {inputs: {x, weights, expertOffsets}, backend, attrs: {transposeWeights}} = args;
  const shape = `x [${x.shape.join(', ')}], weights [${weights.shape.join(', ')}]` +
      (transposeWeights ? ' (transposed)' : '');
  return runGuarded(backend, SluiceGroupedMatMul, shape, () => deviceBudget(backend),
                    scratch => [runGroupedMatMul(scratch, x, weights, expertOffsets, transposeWeights)])[0];
}

export const sluiceGroupedMatMulConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMul,
  backendName: 'webgpu',
  kernelFunc: sluiceGroupedMatMulWebGPU as unknown as KernelFunc,
};
