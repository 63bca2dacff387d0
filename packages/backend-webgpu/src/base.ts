import {getKernel, KernelConfig, registerKernel} from '@tensorflow/tfjs-core';

import './flags_webgpu';
import {sluiceLinearCrossEntropyConfig} from './kernels/SluiceLinearCrossEntropy';
import {sluiceLinearCrossEntropyGradConfig} from './kernels/SluiceLinearCrossEntropyGrad';
import {sluiceTopOneSuppressionConfig} from './kernels/SluiceTopOneSuppression';

export const KERNEL_CONFIGS: readonly KernelConfig[] = [
  sluiceLinearCrossEntropyConfig,
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionConfig,
];

/** Registers the given sluice webgpu kernels (all by default); already registered ones are left alone. */
export function registerKernels(configs: readonly KernelConfig[] = KERNEL_CONFIGS) {
  for (const config of configs) {
    if (getKernel(config.kernelName, config.backendName) == null) {
      registerKernel(config);
    }
  }
}
