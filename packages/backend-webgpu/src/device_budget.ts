/**
 * What one device allows a sluice kernel: the storage-binding and dispatch
 * limits (lowered by the SLUICE_WEBGPU_* flags for tests) and the scratch
 * budget of the LCE backward. Every kernel plans its chunks against this.
 */
import {env} from '@tensorflow/tfjs-core';

import {SLUICE_WEBGPU_GRAD_BLOCK_BYTES, SLUICE_WEBGPU_MAX_BINDING_BYTES, SLUICE_WEBGPU_MAX_WORKGROUPS} from './flags_webgpu';
import type {WebGPUBackend} from './internal';

export interface DeviceBudget {
  bindingBytes: number;
  maxWorkgroups: number;
  maxBufferBytes: number;
  gradBlockBytes: number;
}

/** 8 MiB of dz scratch: small next to the N×V logits, large enough to keep blocks efficient. */
const DEFAULT_GRAD_BLOCK_BYTES = 8 << 20;

function capped(flag: string, limit: number): number {
  const value = env().getNumber(flag);
  return value > 0 ? Math.min(value, limit) : limit;
}

export function deviceBudget(backend: WebGPUBackend): DeviceBudget {
  const limits = backend.device.limits;
  const grad = env().getNumber(SLUICE_WEBGPU_GRAD_BLOCK_BYTES);
  return {
    bindingBytes: capped(SLUICE_WEBGPU_MAX_BINDING_BYTES, limits.maxStorageBufferBindingSize),
    maxWorkgroups: capped(SLUICE_WEBGPU_MAX_WORKGROUPS, limits.maxComputeWorkgroupsPerDimension),
    maxBufferBytes: limits.maxBufferSize,
    gradBlockBytes: grad > 0 ? grad : DEFAULT_GRAD_BLOCK_BYTES,
  };
}
