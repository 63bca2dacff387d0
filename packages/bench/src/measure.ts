import * as tf from '@tensorflow/tfjs-core';
import {peakBytesDuring} from '@sluice/core/testing/peak_bytes';

import {texturePeakDuring} from './webgl_bench';
import {gpuPeakBytesDuring, throwOnWebGPUErrors} from './webgpu_bench';

export interface Measurement {
  /** Best wall time of the repeats, ms, with results read back. */
  ms: number;
  /** Peak bytes tfjs held at any moment of one run beyond what was allocated before it. */
  peakBytes: number;
  /** Set when the variant could not run (e.g. an allocation or texture limit). */
  error?: string;
}

type Run = () => tf.Tensor[] | Promise<tf.Tensor[]>;

/**
 * One run of `run` (which must return tensors whose reading forces the whole
 * computation; they are disposed after), observing its peak memory: the
 * `peakBytes` of a Measurement, or its `error` when the variant cannot run.
 */
export async function profileRun(run: Run): Promise<{peakBytes: number, error?: string}> {
  try {
    // Not tf.profile: it samples memory only after each top-level kernel and
    // misses what a kernel allocates and frees inside itself (tfjs-node's
    // kernels, sluice's 'tensorflow' kernels). This sees every allocation.
    // On webgpu the GPU buffers in use are counted too, on webgl the textures:
    // kernel scratch never becomes a tensor, so tfjs's byte count cannot see it.
    // On webgpu a binding or buffer past the device's limits is a validation
    // error that tfjs never sees (it reads back zeros): the error scopes make it one.
    const gpuPeak = tf.getBackend() === 'webgl' ? texturePeakDuring : gpuPeakBytesDuring;
    const gpu = await throwOnWebGPUErrors(() => gpuPeak(() => peakBytesDuring(async () => {
      const outs = await run();
      await Promise.all(outs.map(t => t.data()));
      tf.dispose(outs);
    })));
    return {peakBytes: Math.max(gpu.result.peakBytes, Number.isFinite(gpu.peakBytes) ? gpu.peakBytes : 0)};
  } catch (e) {
    return {peakBytes: NaN, error: (e as Error).message.split('\n')[0]};
  }
}

/** Wall time of one run of `run`, ms, with its results read back and disposed. */
export async function timeRun(run: Run): Promise<number> {
  const start = performance.now();
  const outs = await run();
  await Promise.all(outs.map(t => t.data()));
  const ms = performance.now() - start;
  tf.dispose(outs);
  return ms;
}

/** One profiled run, then the best time of `repeats` more. */
export async function measure(run: Run, repeats: number): Promise<Measurement> {
  const profiled = await profileRun(run);
  if (profiled.error != null) return {ms: NaN, ...profiled};
  try {
    let best = Infinity;
    for (let r = 0; r < repeats; ++r) best = Math.min(best, await timeRun(run));
    return {ms: best, peakBytes: profiled.peakBytes};
  } catch (e) {
    return {ms: NaN, peakBytes: NaN, error: (e as Error).message.split('\n')[0]};
  }
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(2)} GiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
