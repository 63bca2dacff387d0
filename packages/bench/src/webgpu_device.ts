/**
 * Which WebGPU device the Node benchmarks run on (main.ts only: it loads
 * tfjs-backend-webgpu, which the webgl page must not).
 */
import * as tf from '@tensorflow/tfjs-core';
import {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';

/**
 * Re-registers the 'webgpu' backend on a device requested without
 * requiredLimits, i.e. with WebGPU's default limits (128 MiB per storage
 * binding, 256 MiB per buffer), all that a page can count on everywhere;
 * tfjs's own factory asks for the adapter's maxima (1 GiB each on
 * SwiftShader). sluice's kernels plan their chunks from the device's limits,
 * so they adapt; naive tfjs does not. Call before tf.setBackend('webgpu').
 */
export function useWebGPUDefaultLimits(): void {
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const adapter = await navigator.gpu.requestAdapter({powerPreference: 'high-performance'});
    if (adapter == null) throw new Error('webgpu: Dawn offers no adapter');
    const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    return new WebGPUBackend(await adapter.requestDevice({requiredFeatures}),
                            (adapter as GPUAdapter & {info: GPUAdapterInfo}).info);  // @webgpu/types predates .info
  }, 3);
}

/** The active device's storage-binding and buffer limits, printed with the results. */
export function describeDeviceLimits(): string {
  const device = (tf.backend() as unknown as {device?: GPUDevice}).device;
  if (device == null) return 'no webgpu device';
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return `maxStorageBufferBindingSize ${mib(device.limits.maxStorageBufferBindingSize)}, ` +
      `maxBufferSize ${mib(device.limits.maxBufferSize)}`;
}
