import * as tf from '@tensorflow/tfjs-core';
import {peakBytesDuring, texturePeakBytesDuring} from '@sluice/core/testing';

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
    const gpuPeak = tf.getBackend() === 'webgl' ? texturePeakBytesDuring : gpuPeakBytesDuring;
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

/** A variant's measurement, as a ratio table row. */
export interface MeasuredRow {
  variant: string;
  m: Measurement;
}

export interface RatioTableOptions {
  /** Header of the time column ('time', 'one fit step'). */
  timeHeader: string;
  /** N×V×4 B: the logits naive materialises, for the last column. */
  logitsBytes: number;
  /** GPU backends: a column naming the adapter on every row. */
  adapter?: string;
}

/**
 * Time and peak memory of each variant and their ratios to the first row's
 * (naive), measured side by side in one run; a variant that could not run
 * shows its error, and the ratios are n/a when naive failed.
 */
export function ratioTable(rows: readonly MeasuredRow[], {timeHeader, logitsBytes, adapter}: RatioTableOptions): string {
  const base = rows[0].m;
  const lines = [
    `| variant | ${timeHeader} | time vs naive | peak memory | peak vs naive | peak / logits (N×V×4 B) |` +
        `${adapter ? ' adapter |' : ''}`,
    `|---|---|---|---|---|---|${adapter ? '---|' : ''}`,
  ];
  const cell = adapter ? ` ${adapter} |` : '';
  for (const {variant, m} of rows) {
    if (m.error) {
      lines.push(`| ${variant} | failed: ${m.error} | | | | |${cell}`);
      continue;
    }
    const timeRatio = base.error ? 'n/a' : `${(m.ms / base.ms).toFixed(2)}×`;
    const memRatio = base.error ? 'n/a' : `1/${(base.peakBytes / m.peakBytes).toFixed(1)}`;
    lines.push(`| ${variant} | ${(m.ms / 1000).toFixed(2)} s | ${timeRatio} | ${formatBytes(m.peakBytes)} | ` +
               `${memRatio} | ${(m.peakBytes / logitsBytes).toFixed(2)} |${cell}`);
  }
  return lines.join('\n');
}
