import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '@sluice/core';

import {ProgramUniform, WebGPUBackend} from '../internal';
import {TopOneSuppressionProgram} from '../top_one_suppression_webgpu';

/** Outputs [penalty [N] float32, argmax [N] int32]. */
export function sluiceTopOneSuppressionWebGPU(
    args: {inputs: SluiceTopOneSuppressionInputs, backend: WebGPUBackend, attrs: SluiceTopOneSuppressionAttrs}):
    TensorInfo[] {
  const {inputs: {logits}, backend, attrs: {alpha}} = args;
  const [n, v] = logits.shape;
  if (n === 0) {
    // No dispatch on empty tensors: webgpu rejects zero-size bindings.
    return [backend.makeTensorInfo([0], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([0], 'int32', new Int32Array(0))];
  }
  const uniforms: ProgramUniform[] = [{type: 'int32', data: [n]}, {type: 'int32', data: [v]},
                                      {type: 'float32', data: [alpha]}];
  return [
    backend.runWebGPUProgram(new TopOneSuppressionProgram(n, 'penalty'), [logits], 'float32', uniforms),
    backend.runWebGPUProgram(new TopOneSuppressionProgram(n, 'argmax'), [logits], 'int32', uniforms),
  ];
}

export const sluiceTopOneSuppressionConfig: KernelConfig = {
  kernelName: SluiceTopOneSuppression,
  backendName: 'webgpu',
  kernelFunc: sluiceTopOneSuppressionWebGPU as unknown as KernelFunc,
};
