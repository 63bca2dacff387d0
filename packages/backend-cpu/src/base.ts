import {getKernel, KernelConfig, registerKernel} from '@tensorflow/tfjs-core';

import {sluiceLinearCrossEntropyConfig} from './kernels/SluiceLinearCrossEntropy';
import {sluiceLinearCrossEntropyGradConfig} from './kernels/SluiceLinearCrossEntropyGrad';
import {sluiceTopOneSuppressionConfig} from './kernels/SluiceTopOneSuppression';
import {sluiceExpertDispatchConfig} from './kernels/SluiceExpertDispatch';
import {sluiceGroupedMatMulConfig} from './kernels/SluiceGroupedMatMul';
import {sluiceGroupedMatMulGradConfig} from './kernels/SluiceGroupedMatMulGrad';
import {sluiceExpertCombineConfig} from './kernels/SluiceExpertCombine';

/** Every sluice kernel for the 'cpu' backend, for selective registration. */
export const KERNEL_CONFIGS: readonly KernelConfig[] = [
  sluiceLinearCrossEntropyConfig,
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionConfig,
  sluiceExpertDispatchConfig,
  sluiceGroupedMatMulConfig,
  sluiceGroupedMatMulGradConfig,
  sluiceExpertCombineConfig,
];

/**
 * Registers `configs` (default: all), skipping names already registered for
 * 'cpu', so a second copy of the package (CJS next to ESM) neither throws nor warns.
 */
export function registerKernels(configs: readonly KernelConfig[] = KERNEL_CONFIGS) {
  for (const config of configs) {
    if (getKernel(config.kernelName, config.backendName) == null) {
      registerKernel(config);
    }
  }
}
