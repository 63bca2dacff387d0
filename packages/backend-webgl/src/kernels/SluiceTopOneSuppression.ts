import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '@sluice/core';

import type {MathBackendWebGL} from '../internal';
import {TopOneSuppressionProgram} from '../top_one_suppression_gpu';

/** Outputs [penalty [N] float32, argmax [N] int32]. */
export function sluiceTopOneSuppressionWebGL(
    args: {inputs: SluiceTopOneSuppressionInputs, backend: MathBackendWebGL, attrs: SluiceTopOneSuppressionAttrs}):
    TensorInfo[] {
  const {inputs: {logits}, backend, attrs: {alpha}} = args;
  const [n, v] = logits.shape;
  if (n === 0) {
    return [backend.makeTensorInfo([0], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([0], 'int32', new Int32Array(0))];
  }
  const uniforms = [[v], [alpha]];
  return [
    backend.runWebGLProgram(new TopOneSuppressionProgram(n, 'penalty'), [logits], 'float32', uniforms),
    backend.runWebGLProgram(new TopOneSuppressionProgram(n, 'argmax'), [logits], 'int32', uniforms),
  ];
}

export const sluiceTopOneSuppressionConfig: KernelConfig = {
  kernelName: SluiceTopOneSuppression,
  backendName: 'webgl',
  kernelFunc: sluiceTopOneSuppressionWebGL as unknown as KernelFunc,
};
