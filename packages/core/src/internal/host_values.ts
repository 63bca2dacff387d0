import {engine, getBackend, Tensor, TypedArray} from '@tensorflow/tfjs-core';

/**
 * Host copies of the small integer tensors ops validate (labels, expert
 * indices), cached per dataId: a tensor's data never changes (a Variable's
 * assign swaps its dataId), so a training loop that reuses its labels reads
 * them once, not every step.
 *
 * On webgpu a synchronous read of GPU-resident data goes through a canvas
 * copy that stalls a real GPU and loses the device under headless Chromium's
 * SwiftShader. There, only tensors whose values are still on the host (made
 * from JS arrays and not yet uploaded) are read; for the others this returns
 * null and the caller skips the check (the kernels then give NaN, never a
 * silently finite result, for out-of-range values).
 */
const cache = new WeakMap<object, TypedArray>();

export function hostValues(t: Tensor): TypedArray|null {
  const hit = cache.get(t.dataId);
  if (hit != null) return hit;
  if (getBackend() === 'webgpu' && !hostResident(t)) return null;
  const values = t.dataSync() as TypedArray;
  cache.set(t.dataId, values);
  return values;
}

function hostResident(t: Tensor): boolean {
  const backend = engine().backend as unknown as {tensorMap?: {get(id: object): {values?: unknown}|undefined}};
  return backend.tensorMap?.get(t.dataId)?.values != null;
}
