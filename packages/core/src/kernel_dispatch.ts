import {env, getBackend, getKernel, KernelConfig, registerKernel} from '@tensorflow/tfjs-core';

import {SLUICE_FORCE_COMPOSITE} from './flags';

/** Whether `kernelName` should run as a registered kernel on the active backend. */
export function useRegisteredKernel(kernelName: string): boolean {
  return !env().getBool(SLUICE_FORCE_COMPOSITE) && getKernel(kernelName, getBackend()) != null;
}

/**
 * Registers kernel configs that are not registered yet, so a second copy of
 * a backend package (CJS next to ESM) neither throws nor warns. Every sluice
 * backend package's `registerKernels()` is this over its own configs.
 */
export function registerKernelsOnce(configs: readonly KernelConfig[]) {
  for (const config of configs) {
    if (getKernel(config.kernelName, config.backendName) == null) {
      registerKernel(config);
    }
  }
}
