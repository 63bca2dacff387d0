import {engine, env, getBackend, getKernel, KernelConfig, NamedAttrMap, NamedTensorMap, registerKernel,
        Tensor} from '@tensorflow/tfjs-core';

import {SLUICE_FORCE_COMPOSITE} from '../flags';
import {warnIfBackendPackageMissing} from './composite_warning';

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

/**
 * A kernel's stand-in built from stock tfjs ops: same inputs, attrs and
 * outputs as the kernel (it may return only the leading outputs the op reads).
 */
export type CompositeFunc = (inputs: NamedTensorMap, attrs: NamedAttrMap) => Tensor[];

// On the global object, as tfjs keeps its kernel registry: a second copy of
// core (CJS next to ESM) sees the composites the first one registered.
const COMPOSITES_KEY = Symbol.for('sluice.composites');
function composites(): Map<string, CompositeFunc> {
  const g = globalThis as unknown as Record<symbol, Map<string, CompositeFunc>>;
  return g[COMPOSITES_KEY] ?? (g[COMPOSITES_KEY] = new Map());
}

/** Registers the composite that runs `kernelName` where no backend kernel is registered (composite/). */
export function registerComposite(kernelName: string, composite: CompositeFunc) {
  composites().set(kernelName, composite);
}

/**
 * How every op runs its kernel: the active backend's registered kernel, or
 * else the composite registered for that name. Always an array of outputs.
 */
export function runKernelOrComposite(kernelName: string, inputs: object, attrs: object = {}): Tensor[] {
  if (useRegisteredKernel(kernelName)) {
    const out = engine().runKernel(kernelName, inputs as NamedTensorMap, attrs as unknown as NamedAttrMap);
    return Array.isArray(out) ? out : [out as Tensor];
  }
  if (!env().getBool(SLUICE_FORCE_COMPOSITE)) warnIfBackendPackageMissing(kernelName, getBackend());
  const composite = composites().get(kernelName);
  if (composite == null) {
    throw new Error(`sluice: no kernel '${kernelName}' on backend '${getBackend()}' and no composite registered ` +
                    `for it (import '@sluice/core' before running sluice ops)`);
  }
  return composite(inputs as NamedTensorMap, attrs as unknown as NamedAttrMap);
}
