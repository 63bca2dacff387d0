import * as tf from '@tensorflow/tfjs-core';

export interface Measurement {
  /** Best wall time of the repeats, ms, with results read back. */
  ms: number;
  /** Peak bytes tfjs held during one run beyond what was allocated before it. */
  peakBytes: number;
  /** Set when the variant could not run (e.g. an allocation or texture limit). */
  error?: string;
}

/**
 * `run` must return tensors whose reading forces the whole computation;
 * everything it allocates is disposed after each repeat.
 */
export async function measure(run: () => tf.Tensor[], repeats: number): Promise<Measurement> {
  try {
    const check = tf.env().getBool('CHECK_COMPUTATION_FOR_ERRORS');
    // Profiling would otherwise read back every kernel's output to look for NaN.
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
    const before = tf.memory().numBytes;
    const profile = await tf.profile(async () => {
      const outs = run();
      await Promise.all(outs.map(t => t.data()));
      tf.dispose(outs);
    });
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', check);
    let best = Infinity;
    for (let r = 0; r < repeats; ++r) {
      const start = performance.now();
      const outs = run();
      await Promise.all(outs.map(t => t.data()));
      best = Math.min(best, performance.now() - start);
      tf.dispose(outs);
    }
    return {ms: best, peakBytes: profile.peakBytes - before};
  } catch (e) {
    return {ms: NaN, peakBytes: NaN, error: (e as Error).message.split('\n')[0]};
  }
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(2)} GiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
