import {getKernel, KernelConfig, registerKernel} from '@tensorflow/tfjs-core';

import {sluiceLinearCrossEntropyConfig} from './kernels/SluiceLinearCrossEntropy';
import {sluiceLinearCrossEntropyGradConfig} from './kernels/SluiceLinearCrossEntropyGrad';
import {sluiceTopOneSuppressionConfig} from './kernels/SluiceTopOneSuppression';

/** Every sluice kernel for the 'webgl' backend, for selective registration. */
export const KERNEL_CONFIGS: readonly KernelConfig[] = [
  sluiceLinearCrossEntropyConfig,
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionConfig,
];

/** Registers `configs` (default: all), skipping names already registered for 'webgl'. */
export function registerKernels(configs: readonly KernelConfig[] = KERNEL_CONFIGS) {
  for (const config of configs) {
    if (getKernel(config.kernelName, config.backendName) == null) {
      registerKernel(config);
    }
  }
}
