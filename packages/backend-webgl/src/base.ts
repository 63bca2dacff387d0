import {getKernel, KernelConfig, registerKernel} from '@tensorflow/tfjs-core';

import {sluiceTopOneSuppressionConfig} from './kernels/SluiceTopOneSuppression';

/** Every sluice kernel for the 'webgl' backend, for selective registration. */
export const KERNEL_CONFIGS: readonly KernelConfig[] = [
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
