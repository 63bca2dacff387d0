/**
 * Everything this package takes from tfjs-node beyond its public API, in one
 * place: the typings of its backend class and binding (deep `dist/` paths,
 * imported as types only, so this package loads nothing of tfjs-node itself)
 * and one method its typings keep private. tfjs-node-gpu's 'tensorflow'
 * backend is the same class from an identical `dist/`, so the kernels serve
 * both: they only ever touch the backend instance they are handed.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import type {NodeJSKernelBackend} from '@tensorflow/tfjs-node/dist/nodejs_kernel_backend';

export type {NodeJSKernelBackend};
export type {TFEOpAttr} from '@tensorflow/tfjs-node/dist/tfjs_binding';

/**
 * The libtensorflow handle ids of `tensors`, for calls to the binding itself
 * (`binding.executeOp`). NodeJSKernelBackend keeps this method private in its
 * typings; it also uploads values tfjs has not yet handed to TensorFlow.
 */
export function inputTensorIds(backend: NodeJSKernelBackend, tensors: TensorInfo[]): number[] {
  return (backend as unknown as {getInputTensorIds(t: TensorInfo[]): number[]}).getInputTensorIds(tensors);
}
