/**
 * SluiceGroupedMatMul for 'webgl': one `GroupedMatMulProgram` pass over the
 * [M, H] output, each texel finding its expert in the offsets texture, so
 * no readback and one program for every routing.
 */
import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceGroupedMatMul, SluiceGroupedMatMulAttrs, SluiceGroupedMatMulInputs} from '@sluice/core';

import {GroupedMatMulProgram} from '../grouped_mat_mul_gpu';
import type {MathBackendWebGL} from '../internal';

/** y [M, H] = x_seg · W_e per segment (W_eᵀ with transposed weights [E, H, K]). */
export function groupedMatMulWebGL(backend: MathBackendWebGL, x: TensorInfo, weights: TensorInfo,
                                   expertOffsets: TensorInfo, transposeWeights: boolean): TensorInfo {
  const [m, kDim] = x.shape;
  const [e, a, b] = weights.shape;
  const h = transposeWeights ? a : b;
  if (m === 0 || h === 0) return backend.makeTensorInfo([m, h], 'float32', new Float32Array(0));
  return backend.runWebGLProgram(new GroupedMatMulProgram(m, kDim, h, e, transposeWeights),
                                 [x, weights, expertOffsets], 'float32');
}

export function sluiceGroupedMatMulWebGL(
    args: {inputs: SluiceGroupedMatMulInputs, backend: MathBackendWebGL, attrs: SluiceGroupedMatMulAttrs}):
    TensorInfo {
  const {inputs: {x, weights, expertOffsets}, backend, attrs: {transposeWeights}} = args;
  return groupedMatMulWebGL(backend, x, weights, expertOffsets, transposeWeights);
}

export const sluiceGroupedMatMulConfig: KernelConfig = {
  kernelName: SluiceGroupedMatMul,
  backendName: 'webgl',
  kernelFunc: sluiceGroupedMatMulWebGL as unknown as KernelFunc,
};
