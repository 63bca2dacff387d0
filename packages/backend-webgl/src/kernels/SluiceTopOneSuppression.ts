import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '@sluice/core';

import type {MathBackendWebGL} from '../internal';
import {PickColumnProgram, TopOneSuppressionProgram} from '../top_one_suppression_gpu';

/** Outputs [penalty [N] float32, argmax [N] int32]: one pass over each row. */
export function sluiceTopOneSuppressionWebGL(
    args: {inputs: SluiceTopOneSuppressionInputs, backend: MathBackendWebGL, attrs: SluiceTopOneSuppressionAttrs}):
    TensorInfo[] {
  const {inputs: {logits}, backend, attrs: {alpha}} = args;
  const [n, v] = logits.shape;
  if (n === 0) {
    return [backend.makeTensorInfo([0], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([0], 'int32', new Int32Array(0))];
  }
  const stats = backend.runWebGLProgram(new TopOneSuppressionProgram(n), [logits], 'float32', [[v], [alpha]]);
  try {
    return [
      backend.runWebGLProgram(new PickColumnProgram(n, 0), [stats], 'float32'),
      backend.runWebGLProgram(new PickColumnProgram(n, 1), [stats], 'int32'),
    ];
  } finally {
    backend.disposeIntermediateTensorInfo(stats);  // the packed [N, 2] pair, read by both picks
  }
}

export const sluiceTopOneSuppressionConfig: KernelConfig = {
  kernelName: SluiceTopOneSuppression,
  backendName: 'webgl',
  kernelFunc: sluiceTopOneSuppressionWebGL as unknown as KernelFunc,
};
