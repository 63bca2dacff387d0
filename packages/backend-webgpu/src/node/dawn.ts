/**
 * WebGPU in Node through Dawn (the `webgpu` npm package): installs the WebGPU
 * globals and `navigator.gpu`. Import it before '@tensorflow/tfjs-backend-webgpu',
 * which registers its backend only if `navigator.gpu` exists when it loads.
 * Used by the Node test entry and the benchmarks; not part of the package entry.
 *
 * Dawn loads Vulkan through libvulkan.so.1 and the driver named by
 * VK_ICD_FILENAMES. On machines without a GPU the launcher points both at
 * Chromium's SwiftShader (see `dawnEnv` in scripts/webgpu_env.mjs); with a
 * system driver installed nothing is overridden and the real GPU is used.
 */
import './dawn_globals';

import {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';

/**
 * tfjs reads GPU data synchronously (`dataSync`) through an OffscreenCanvas,
 * which Node lacks, and drops a tensor's CPU values once they are uploaded.
 * Keeping those values makes `dataSync` work in Node for every tensor that was
 * created from CPU data (as the ops' label validation needs); results computed
 * on the GPU still need the async `data()` in Node.
 */
type Uploadable = {uploadToGPU(dataId: object): void, tensorMap: {get(id: object): {values: unknown}}};
const proto = WebGPUBackend.prototype as unknown as Uploadable;
const upload = proto.uploadToGPU;
proto.uploadToGPU = function(this: Uploadable, dataId: object) {
  const values = this.tensorMap.get(dataId).values;
  upload.call(this, dataId);
  if (values != null) {
    this.tensorMap.get(dataId).values = values;
  }
};

/** The adapter Dawn offers, or null: what tests and benchmarks report before running. */
export async function describeDawnAdapter(): Promise<string|null> {
  const adapter = await navigator.gpu.requestAdapter({powerPreference: 'high-performance'});
  if (adapter == null) {
    return null;
  }
  const info = adapter.info;
  return [info.vendor, info.architecture, info.device, info.description].filter(s => s).join(' / ') || 'unnamed adapter';
}
