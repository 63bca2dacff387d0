import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';

import {linearCrossEntropyGradImpl} from './SluiceLinearCrossEntropyGrad_impl';

/** Outputs [dEmbeddings [N, D], dClassifier in the classifier's layout ([V, D] or [D, V]), dBias [V]]. */
export function sluiceLinearCrossEntropyGrad(args: {
  inputs: SluiceLinearCrossEntropyGradInputs,
  backend: MathBackendCPU,
  attrs: SluiceLinearCrossEntropyGradAttrs,
}): TensorInfo[] {
  const {inputs, backend, attrs} = args;
  const [n, d] = inputs.embeddings.shape;
  const v = attrs.classifierLayout === 'dv' ? inputs.classifier.shape[1] : inputs.classifier.shape[0];
  const read = (t: TensorInfo) => backend.data.get(t.dataId).values;
  const grads = linearCrossEntropyGradImpl({
    dLosses: read(inputs.dLosses) as Float32Array,
    dLse: read(inputs.dLse) as Float32Array,
    embeddings: read(inputs.embeddings) as Float32Array,
    classifier: read(inputs.classifier) as Float32Array,
    labels: read(inputs.labels) as Int32Array,
    lse: read(inputs.lse) as Float32Array,
    argmax: read(inputs.argmax) as Int32Array,
    bias: inputs.bias == null ? null : read(inputs.bias) as Float32Array,
    classWeights: inputs.classWeights == null ? null : read(inputs.classWeights) as Float32Array,
    n, v, d,
  }, attrs);
  return [
    backend.makeTensorInfo([n, d], 'float32', grads.dEmbeddings),
    backend.makeTensorInfo(inputs.classifier.shape.slice(), 'float32', grads.dClassifier),
    backend.makeTensorInfo([v], 'float32', grads.dBias),
  ];
}

export const sluiceLinearCrossEntropyGradConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropyGrad,
  backendName: 'cpu',
  kernelFunc: sluiceLinearCrossEntropyGrad as unknown as KernelFunc,
};
