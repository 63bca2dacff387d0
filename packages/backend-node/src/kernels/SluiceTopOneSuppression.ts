/**
 * SluiceTopOneSuppression for tfjs-node's 'tensorflow' backend: three
 * TensorFlow ops per call (Max, Mean of the gap, ArgMax), no per-row loop.
 * mean(max − z) rather than max − mean(z): every term is >= 0, so a large
 * offset shared by the row cancels before the sum. A NaN in a row reaches
 * its mean, so the penalty is NaN.
 */
import {KernelConfig, KernelFunc, tidy} from '@tensorflow/tfjs-core';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

export const sluiceTopOneSuppression: KernelFunc = ({inputs, backend, attrs}) => {
  const {logits} = inputs as unknown as SluiceTopOneSuppressionInputs;
  const {alpha} = attrs as unknown as SluiceTopOneSuppressionAttrs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const [n] = logits.shape;
  if (n === 0) {
    return [ops.fill([0], 0), ops.fill([0], 0, 'int32')];
  }
  return tidy(() => {
    const max = ops.reduce('Max', logits, [1], true);
    const gap = ops.reduce('Mean', ops.binary('Sub', max, logits), [1]);
    return [ops.withScalar('Mul', gap, alpha), ops.argMax(logits, 1)];
  });
};

export const sluiceTopOneSuppressionConfig: KernelConfig = {
  kernelName: SluiceTopOneSuppression,
  backendName: 'tensorflow',
  kernelFunc: sluiceTopOneSuppression,
};
