import {env, getBackend, getKernel} from '@tensorflow/tfjs-core';

import {SLUICE_FORCE_COMPOSITE} from './flags';

/** Whether `kernelName` should run as a registered kernel on the active backend. */
export function useRegisteredKernel(kernelName: string): boolean {
  return !env().getBool(SLUICE_FORCE_COMPOSITE) && getKernel(kernelName, getBackend()) != null;
}
