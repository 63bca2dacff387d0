import {env} from '@tensorflow/tfjs-core';

/**
 * When true, every sluice op runs its composite (stock tfjs ops) even where
 * the backend has a sluice kernel. Tests use it to check the composite on
 * backends that do have kernels; users can use it to bisect a kernel bug.
 */
export const SLUICE_FORCE_COMPOSITE = 'SLUICE_FORCE_COMPOSITE';

const registered = (env() as unknown as {flagRegistry: Record<string, unknown>}).flagRegistry;
if (registered[SLUICE_FORCE_COMPOSITE] == null) {
  env().registerFlag(SLUICE_FORCE_COMPOSITE, () => false);
}
