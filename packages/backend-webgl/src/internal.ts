/**
 * Everything this package takes from tfjs-backend-webgl, in one place. No
 * tfjs source is imported from `dist/`: tfjs ships those files as ES modules
 * Node's require() cannot load, so a deep import would have to be copied into
 * the CJS and UMD bundles (92 tfjs modules, with their own copies of tfjs
 * state). Instead:
 *   - the public entry gives `MathBackendWebGL` and `GPGPUProgram`;
 *   - tfjs's own kernels (the packed matmul with its fused bias, Reshape,
 *     Slice, Concat) are reached at run time through the kernel registry,
 *     under the same names and signatures their dist/ functions have;
 *   - `UniformType` is a type (erased).
 */
import {getKernel, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';

export {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
export type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
export type {UniformType} from '@tensorflow/tfjs-backend-webgl/dist/shader_compiler';

/** tfjs-backend-webgl's registered kernel `name`: present once the backend package is imported. */
function webglKernel(name: string): KernelFunc {
  const config = getKernel(name, 'webgl');
  if (config == null) {
    throw new Error(`@sluice/backend-webgl: tfjs's '${name}' kernel is not registered on 'webgl' ` +
                    `(import '@tensorflow/tfjs-backend-webgl' before running sluice's webgl kernels)`);
  }
  return config.kernelFunc;
}

function run(name: string, inputs: NamedTensorInfoMap, backend: MathBackendWebGL, attrs: object): TensorInfo {
  return webglKernel(name)({inputs, backend, attrs: attrs as NamedAttrMap}) as TensorInfo;
}

/** tfjs's packed matmul, a·b (transposed as asked) + bias, through its `_FusedMatMul` kernel. */
export function batchMatMulImpl({a, b, transposeA, transposeB, backend, bias}: {
  a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, backend: MathBackendWebGL,
  bias?: TensorInfo,
}): TensorInfo {
  const inputs: NamedTensorInfoMap = bias == null ? {a, b} : {a, b, bias};
  return run('_FusedMatMul', inputs, backend, {transposeA, transposeB, activation: 'linear'});
}

interface KernelArgs<A> {
  inputs: NamedTensorInfoMap;
  backend: MathBackendWebGL;
  attrs: A;
}

export function reshape({inputs, backend, attrs}: KernelArgs<{shape: number[]}>): TensorInfo {
  return run('Reshape', inputs, backend, attrs);
}

export function slice({inputs, backend, attrs}: KernelArgs<{begin: number[], size: number[]}>): TensorInfo {
  return run('Slice', inputs, backend, attrs);
}

export function concat({inputs, backend, attrs}: {inputs: TensorInfo[], backend: MathBackendWebGL,
                                                   attrs: {axis: number}}): TensorInfo {
  // Concat's inputs are a list; the kernel registry passes them as an array under NamedTensorInfoMap's type.
  return run('Concat', inputs as unknown as NamedTensorInfoMap, backend, attrs);
}
