import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceGroupedMatMulGrad, SluiceGroupedMatMulGradInputs} from '@sluice/core';

import {runGuarded} from '../gpu_scratch';
import {GroupedWeightGradProgram} from '../grouped_mat_mul_webgpu';
import {WebGPUBackend} from '../internal';
import {deviceBudget} from '../device_budget';
import {tileCols, tileRows, TILE} from '../shader_util';
import {i32} from '../uniforms';
import {runGroupedMatMul} from '../grouped_mat_mul_webgpu';

/**
 * Outputs [dx [M, K], dWeights [E, K, H]] of y = x · W_e per segment:
 * dx = dy · W_eᵀ (the forward program with transposed weights, contracting
 * over H) and dW_e = x_segᵀ · dy_seg (zeros for empty experts).
 */
export function sluiceGroupedMatMulGradWebGPU(args: {inputs: SluiceGroupedMatMulGradInputs, backend: WebGPUBackend}):
    TensorInfo[] {
  const {inputs: {dy, x, weights, expertOffsets}, backend} = args;
  const [m, k] = x.shape;
  const [e, , h] = weights.shape;
  const shape = `x [${x.shape.join(', ')}], weights [${weights.shape.join(', ')}]`;
  return runGuarded(backend, SluiceGroupedMatMulGrad, shape, () => deviceBudget(backend), scratch => {
    const dx = runGroupedMatMul(scratch, dy, weights, expertOffsets, true);
    if (m === 0 || k === 0 || h === 0) {
      return [dx, scratch.outputFromValues([e, k, h], 'float32')];
    }
    const dw = scratch.allocate([e, k, h], 'float32', true);
    scratch.assertBindable('dWeights', dw.shape);
    const program = new GroupedWeightGradProgram(e, k, h, scratch.budget.maxWorkgroups);
    backend.runWebGPUProgram(program, [x, dy, expertOffsets], 'float32',
                             [i32(e), i32(k), i32(h), i32(Math.ceil(k / tileRows(TILE))), i32(Math.ceil(h / tileCols(TILE)))], dw);
    return [dx, dw];
  });
}

export const sluiceGroupedMatMulGradConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMulGrad,
  backendName: 'webgpu',
  kernelFunc: sluiceGroupedMatMulGradWebGPU as unknown as KernelFunc,
};
