import type {GradConfig} from '@tensorflow/tfjs-core';

/**
 * Runs `f` with every gradient that is not sluice's removed from tfjs's
 * gradient registry, restoring them afterwards: the state of an app that
 * imports `@tensorflow/tfjs-core` and one backend, where tfjs registers no
 * gradient (issue 14.2). The registry lives on tfjs's global namespace.
 */
export async function withoutStockGradients<T>(f: () => Promise<T>): Promise<T> {
  const globals = (globalThis as unknown as {_tfGlobals: Map<string, unknown>})._tfGlobals;
  const registry = globals.get('gradRegistry') as Map<string, GradConfig>;
  const removed = [...registry.entries()].filter(([name]) => !name.startsWith('Sluice'));
  removed.forEach(([name]) => registry.delete(name));
  try {
    return await f();
  } finally {
    removed.forEach(([name, config]) => registry.set(name, config));
  }
}
