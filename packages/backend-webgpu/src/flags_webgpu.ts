/**
 * Internal knobs of the webgpu kernels, as tfjs env flags. They exist so the
 * chunking paths that only large shapes reach on real hardware can be
 * exercised at small shapes in tests, and so the two backward strategies can
 * be measured side by side; defaults suit real GPUs.
 */
import {env} from '@tensorflow/tfjs-core';

/** Bytes one storage binding may span; 0 = the device's maxStorageBufferBindingSize. */
export const SLUICE_WEBGPU_MAX_BINDING_BYTES = 'SLUICE_WEBGPU_MAX_BINDING_BYTES';
/** Workgroups per dispatch dimension; 0 = the device's maxComputeWorkgroupsPerDimension. */
export const SLUICE_WEBGPU_MAX_WORKGROUPS = 'SLUICE_WEBGPU_MAX_WORKGROUPS';
/** Bytes of the [tokens × vocab block] gradient scratch of the backward; 0 = default (8 MiB). */
export const SLUICE_WEBGPU_GRAD_BLOCK_BYTES = 'SLUICE_WEBGPU_GRAD_BLOCK_BYTES';
/**
 * 'two-pass' (default): per vocab block, a dz block, then dE and dC by two tiled
 * matmul passes over it. 'atomic': one fused pass per tile that adds into dE
 * and dC with float compare-and-swap atomics, no dz scratch.
 */
export const SLUICE_WEBGPU_LCE_BACKWARD = 'SLUICE_WEBGPU_LCE_BACKWARD';

const registry = (env() as unknown as {flagRegistry: Record<string, unknown>}).flagRegistry;
function register(name: string, value: () => number|string) {
  if (registry[name] == null) {
    env().registerFlag(name, value as () => number);
  }
}
register(SLUICE_WEBGPU_MAX_BINDING_BYTES, () => 0);
register(SLUICE_WEBGPU_MAX_WORKGROUPS, () => 0);
register(SLUICE_WEBGPU_GRAD_BLOCK_BYTES, () => 0);
register(SLUICE_WEBGPU_LCE_BACKWARD, () => 'two-pass');
