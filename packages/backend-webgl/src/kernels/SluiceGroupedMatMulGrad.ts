/**
 * SluiceGroupedMatMulGrad for 'webgl': dx = dy_seg · W_eᵀ is the forward
 * program with the weights read transposed (no transposed copy), and
 * dW [E, K, H] is one `GroupedWeightGradProgram` pass (0 for empty experts).
 */
import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceGroupedMatMulGrad, SluiceGroupedMatMulGradInputs} from '@sluice/core';

import {GroupedWeightGradProgram} from '../grouped_mat_mul_gpu';
import type {MathBackendWebGL} from '../internal';

import {groupedMatMulWebGL} from './SluiceGroupedMatMul';

/** Outputs [dx [M, K], dWeights [E, K, H]]. */
export function sluiceGroupedMatMulGradWebGL(args: {inputs: SluiceGroupedMatMulGradInputs, backend: MathBackendWebGL}):
    TensorInfo[] {
  const {inputs: {dy, x, weights, expertOffsets}, backend} = args;
  const [m, k] = x.shape;
  const [e, , h] = weights.shape;
  if (m === 0) {
    return [backend.makeTensorInfo([0, k], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([e, k, h], 'float32', new Float32Array(e * k * h))];
  }
  const dx = groupedMatMulWebGL(backend, dy, weights, expertOffsets, true);
  const dw = backend.runWebGLProgram(new GroupedWeightGradProgram(m, k, h, e), [x, dy, expertOffsets], 'float32');
  return [dx, dw];
}

export const sluiceGroupedMatMulGradConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMulGrad,
  backendName: 'webgl',
  kernelFunc: sluiceGroupedMatMulGradWebGL as unknown as KernelFunc,
};
