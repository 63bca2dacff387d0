/**
 * No silent slow path (issue 14, item 4): forgetting `import '@sluice/backend-cpu'`
 * runs every op's composite (several times slower, and the composite's
 * chunks hold more memory) with nothing said. So the first time an op runs
 * its composite on a backend that has a sluice package but none of whose
 * sluice kernels are registered, one console.warn names the package. Backends
 * without a sluice package (wasm, third-party, test backends) are what the
 * composite is for and stay quiet; so does a forced composite.
 */
import {env, getKernelsForBackend} from '@tensorflow/tfjs-core';

import {SLUICE_WARN_COMPOSITE} from '../flags';

/** The sluice package that registers kernels on each tfjs backend. */
export const SLUICE_BACKEND_PACKAGES: Readonly<Record<string, string>> = {
  cpu: '@sluice/backend-cpu',
  webgl: '@sluice/backend-webgl',
  webgpu: '@sluice/backend-webgpu',
  tensorflow: '@sluice/backend-node',
};

// On the global object, like the composite registry: two copies of core warn once between them.
const WARNED_KEY = Symbol.for('sluice.compositeWarnings');
function warned(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string>>;
  return g[WARNED_KEY] ?? (g[WARNED_KEY] = new Set());
}

/** Forgets which (op, backend) pairs have warned, so a test can watch the first warning again. */
export function resetCompositeWarnings() {
  warned().clear();
}

/** `SluiceLinearCrossEntropyGrad` -> `linearCrossEntropy`: the op a user called. */
function opName(kernelName: string): string {
  const bare = kernelName.replace(/^Sluice/, '').replace(/Grad$/, '');
  return bare.charAt(0).toLowerCase() + bare.slice(1);
}

export function warnIfBackendPackageMissing(kernelName: string, backendName: string) {
  const pkg = SLUICE_BACKEND_PACKAGES[backendName];
  if (pkg == null || !env().getBool(SLUICE_WARN_COMPOSITE)) return;
  // A backend package registers all its kernels at once: any sluice kernel there means it was imported.
  if (getKernelsForBackend(backendName).some(k => k.kernelName.startsWith('Sluice'))) return;
  const op = opName(kernelName);
  const key = `${op}@${backendName}`;
  if (warned().has(key)) return;
  warned().add(key);
  console.warn(`sluice: ${op} runs its composite (stock tfjs ops: slower, more memory) on backend ` +
               `'${backendName}' because no sluice kernels are registered there; import '${pkg}' to register ` +
               `them, or tf.env().set('${SLUICE_WARN_COMPOSITE}', false) to silence this warning`);
}
