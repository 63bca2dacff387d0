import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '@sluice/core';

import {topOneSuppressionImpl} from './SluiceTopOneSuppression_impl';

/** Outputs [penalty [N] float32, argmax [N] int32]; the gradient is built in core from argmax. */
export function sluiceTopOneSuppression(
    args: {inputs: SluiceTopOneSuppressionInputs, backend: MathBackendCPU, attrs: SluiceTopOneSuppressionAttrs}):
    TensorInfo[] {
  const {inputs: {logits}, backend, attrs: {alpha}} = args;
  const [n, v] = logits.shape;
  const values = backend.data.get(logits.dataId).values as Float32Array;
  const {penalty, argmax} = topOneSuppressionImpl(values, n, v, alpha);
  return [backend.makeTensorInfo([n], 'float32', penalty), backend.makeTensorInfo([n], 'int32', argmax)];
}

export const sluiceTopOneSuppressionConfig: KernelConfig = {
  kernelName: SluiceTopOneSuppression,
  backendName: 'cpu',
  kernelFunc: sluiceTopOneSuppression as unknown as KernelFunc,
};
