import type {KernelConfig} from '@tensorflow/tfjs-core';
import {registerKernelsOnce} from '@sluice/core/internal';

import './flags_webgpu';
import {sluiceExpertCombineConfig} from './kernels/SluiceExpertCombine';
import {sluiceExpertDispatchConfig} from './kernels/SluiceExpertDispatch';
import {sluiceGroupedMatMulConfig} from './kernels/SluiceGroupedMatMul';
import {sluiceGroupedMatMulGradConfig} from './kernels/SluiceGroupedMatMulGrad';
import {sluiceLinearCrossEntropyConfig} from './kernels/SluiceLinearCrossEntropy';
import {sluiceLinearCrossEntropyGradConfig} from './kernels/SluiceLinearCrossEntropyGrad';
import {sluiceTopOneSuppressionConfig} from './kernels/SluiceTopOneSuppression';

export const KERNEL_CONFIGS: readonly KernelConfig[] = [
  sluiceLinearCrossEntropyConfig,
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionConfig,
  sluiceExpertDispatchConfig,
  sluiceGroupedMatMulConfig,
  sluiceGroupedMatMulGradConfig,
  sluiceExpertCombineConfig,
];

/** Registers `configs` (default: all) for 'webgpu', leaving already registered names alone. */
export function registerKernels(configs: readonly KernelConfig[] = KERNEL_CONFIGS) {
  registerKernelsOnce(configs);
}
