import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';

import {linearCrossEntropyImpl} from './SluiceLinearCrossEntropy_impl';

/** Outputs [losses [N], lse [N], argmax [N] int32, entropy [N] or [0]]; see `SluiceLinearCrossEntropy` in @sluice/core. */
export function sluiceLinearCrossEntropy(args: {
  inputs: SluiceLinearCrossEntropyInputs,
  backend: MathBackendCPU,
  attrs: SluiceLinearCrossEntropyAttrs,
}): TensorInfo[] {
  const {inputs: {embeddings, classifier, labels, bias, classWeights}, backend, attrs} = args;
  const [n, d] = embeddings.shape;
  const v = attrs.classifierLayout === 'dv' ? classifier.shape[1] : classifier.shape[0];
  const read = (t: TensorInfo) => backend.data.get(t.dataId).values;
  const {losses, lse, argmax, entropy} = linearCrossEntropyImpl(
      read(embeddings) as Float32Array, read(classifier) as Float32Array, read(labels) as Int32Array,
      bias == null ? null : read(bias) as Float32Array, n, v, d, attrs,
      classWeights == null ? null : read(classWeights) as Float32Array);
  return [
    backend.makeTensorInfo([n], 'float32', losses),
    backend.makeTensorInfo([n], 'float32', lse),
    backend.makeTensorInfo([n], 'int32', argmax),
    backend.makeTensorInfo([entropy.length], 'float32', entropy),
  ];
}

export const sluiceLinearCrossEntropyConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropy,
  backendName: 'cpu',
  kernelFunc: sluiceLinearCrossEntropy as unknown as KernelFunc,
};
