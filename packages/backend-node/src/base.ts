import {getKernel, KernelConfig, registerKernel} from '@tensorflow/tfjs-core';

import {sluiceLinearCrossEntropyConfig} from './kernels/SluiceLinearCrossEntropy';
import {sluiceLinearCrossEntropyGradConfig} from './kernels/SluiceLinearCrossEntropyGrad';
import {sluiceTopOneSuppressionConfig} from './kernels/SluiceTopOneSuppression';

/** Every sluice kernel for the 'tensorflow' backend (tfjs-node and tfjs-node-gpu), for selective registration. */
export const KERNEL_CONFIGS: readonly KernelConfig[] = [
  sluiceLinearCrossEntropyConfig,
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionConfig,
];

/**
 * Registers `configs` (default: all), skipping kernels already registered
 * under the same name for 'tensorflow', so importing the package twice (or a
 * CJS and an ESM copy of it) neither throws nor warns.
 */
export function registerKernels(configs: readonly KernelConfig[] = KERNEL_CONFIGS) {
  for (const config of configs) {
    if (getKernel(config.kernelName, config.backendName) == null) {
      registerKernel(config);
    }
  }
}

