import {env} from '@tensorflow/tfjs-core';

/**
 * When true, every sluice op runs its composite (stock tfjs ops) even where
 * the backend has a sluice kernel. Tests use it to check the composite on
 * backends that do have kernels; users can use it to bisect a kernel bug.
 */
export const SLUICE_FORCE_COMPOSITE = 'SLUICE_FORCE_COMPOSITE';

/**
 * When true (the default), an op that runs its composite on a backend for
 * which a sluice backend package exists, but none of whose sluice kernels are
 * registered, warns once per (op, backend) naming the package to import.
 * Set it to false to silence that warning (the composite is intended there).
 */
export const SLUICE_WARN_COMPOSITE = 'SLUICE_WARN_COMPOSITE';

// Registered once even when two copies of core load (CJS next to ESM): the flag registry is tfjs's, global.
const registered = (env() as unknown as {flagRegistry: Record<string, unknown>}).flagRegistry;
if (registered[SLUICE_FORCE_COMPOSITE] == null) {
  env().registerFlag(SLUICE_FORCE_COMPOSITE, () => false);
}
if (registered[SLUICE_WARN_COMPOSITE] == null) {
  env().registerFlag(SLUICE_WARN_COMPOSITE, () => true);
}
