/**
 * Fused linear cross-entropy, forward + backward, against the way tfjs users
 * write it today: logits = matMul(E, Cᵀ), tf.losses.softmaxCrossEntropy on
 * one-hot labels, tf.grads. Time and peak memory are measured side by side in
 * one process on one backend; the ratios are what the README reports.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, LinearCrossEntropyOptions, SLUICE_FORCE_COMPOSITE, SluiceLinearCrossEntropy} from '@sluice/core';

import type {CceShape} from './cce_shapes';
import {formatBytes, measure, Measurement} from './measure';

export type {CceShape};

export interface CceRow {
  variant: string;
  m: Measurement;
}

export function inputs(shape: CceShape) {
  // Scaled so logits have unit-order spread, as in a freshly initialised head.
  const e = tf.randomNormal([shape.n, shape.d], 0, 1, 'float32', 1) as tf.Tensor2D;
  const c = tf.randomNormal([shape.v, shape.d], 0, 1 / Math.sqrt(shape.d), 'float32', 2) as tf.Tensor2D;
  const labels = tf.randomUniform([shape.n], 0, shape.v, 'int32', 3) as tf.Tensor1D;
  return {e, c, labels};
}

export function naive(e: tf.Tensor2D, c: tf.Tensor2D, labels: tf.Tensor1D, v: number): tf.Tensor[] {
  return tf.grads((ee: tf.Tensor, cc: tf.Tensor) => {
    const logits = tf.matMul(ee, cc, false, true);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, v), logits) as tf.Scalar;
  })([e, c]);
}

export function fused(e: tf.Tensor2D, c: tf.Tensor2D, labels: tf.Tensor1D, maxSup = 0): tf.Tensor[] {
  return tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
                      linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, labels, {maxSup}) as tf.Scalar)([e, c]);
}

export interface CceVariants {
  /** Also fused with maxSup 0.1 (default true). */
  maxSup?: boolean;
  /** How the kernel rows are named (default 'fused kernel'). */
  kernelLabel?: string;
}

/** naive, the fused kernel (when the backend has one; with and without maxSup) and the fused composite. */
export async function benchCce(shape: CceShape, repeats: number, log: (s: string) => void,
                               {maxSup = true, kernelLabel = 'fused kernel'}: CceVariants = {}): Promise<CceRow[]> {
  const {e, c, labels} = inputs(shape);
  await Promise.all([e, c, labels].map(t => t.data()));  // inputs in place (on the GPU) before any measurement
  const rows: CceRow[] = [];
  const hasKernel = tf.getKernel(SluiceLinearCrossEntropy, tf.getBackend()) != null;
  const variants: Array<[string, () => tf.Tensor[], boolean]> = [
    ['naive (matMul + softmaxCrossEntropy)', () => naive(e, c, labels, shape.v), false],
    ...(hasKernel ? [
      [kernelLabel, () => fused(e, c, labels), false],
      // MaxSup rides along with the online LSE: its cost over plain fused CE is the point.
      ...(maxSup ? [['fused kernel + maxSup 0.1', () => fused(e, c, labels, 0.1), false]] : []),
    ] as Array<[string, () => tf.Tensor[], boolean]> : []),
    ['fused composite', () => fused(e, c, labels), true],
  ];
  for (const [variant, run, forceComposite] of variants) {
    log(`  running ${variant} ...`);
    tf.env().set(SLUICE_FORCE_COMPOSITE, forceComposite);
    const m = await measure(run, repeats);
    tf.env().set(SLUICE_FORCE_COMPOSITE, false);
    log(`    ${m.error ? `failed: ${m.error}` : `${m.ms.toFixed(0)} ms, peak ${formatBytes(m.peakBytes)}`}`);
    rows.push({variant, m});
  }
  tf.dispose([e, c, labels]);
  return rows;
}

/** `adapter` (GPU backends) adds a column naming the adapter on every row. */
export function cceTable(shape: CceShape, rows: CceRow[], adapter?: string): string {
  const base = rows[0].m;
  const logitsBytes = shape.n * shape.v * 4;
  const lines = [
    `| variant | time | time vs naive | peak memory | peak vs naive | peak / logits (N×V×4 B) |${adapter ? ' adapter |' : ''}`,
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

// ---------------------------------------------------------------- returned extras (issue 18.2)

type ExtraFlag = 'returnZLoss'|'returnPredictions'|'returnAccuracy'|'returnEntropy';
const EXTRAS: Array<[string, ExtraFlag[]]> = [
  ['+ returnZLoss', ['returnZLoss']],
  ['+ returnPredictions', ['returnPredictions']],
  ['+ returnAccuracy', ['returnAccuracy']],
  ['+ returnEntropy', ['returnEntropy']],
  ['+ all four', ['returnZLoss', 'returnPredictions', 'returnAccuracy', 'returnEntropy']],
];

/** Forward + backward of the loss with `flags` set; the extras are kept and returned so reading them forces them. */
function fusedWithExtras(e: tf.Tensor2D, c: tf.Tensor2D, labels: tf.Tensor1D, flags: ExtraFlag[]): tf.Tensor[] {
  const kept: tf.Tensor[] = [];
  const options: LinearCrossEntropyOptions = {zLoss: 1e-4, ...Object.fromEntries(flags.map(f => [f, true]))};
  const grads = tf.grads((ee: tf.Tensor, cc: tf.Tensor) => {
    const out = linearCrossEntropy(ee, cc, labels, options);
    if (out instanceof tf.Tensor) return out as tf.Scalar;
    for (const [key, t] of Object.entries(out)) {
      if (key !== 'loss' && t != null) kept.push(tf.keep(t as tf.Tensor));
    }
    return out.loss as tf.Scalar;
  })([e, c]);
  return [...grads, ...kept];
}

export interface ExtrasRow {
  variant: string;
  ms: number;
  /** ms / the plain fused kernel's ms, measured in the same rounds. */
  ratio: number;
}

/**
 * Each extra against plain fused CE (zLoss 1e-4 in both, so the z-loss term
 * itself is not what is measured), on the registered kernel: the variants run
 * interleaved, `rounds` times, and each keeps its best time, so a noisy
 * machine slows all of them alike.
 */
export async function benchCceExtras(shape: CceShape, rounds: number, log: (s: string) => void): Promise<ExtrasRow[]> {
  if (tf.getKernel(SluiceLinearCrossEntropy, tf.getBackend()) == null) return [];
  const {e, c, labels} = inputs(shape);
  const variants: Array<[string, ExtraFlag[]]> = [['fused kernel (zLoss 1e-4)', []], ...EXTRAS];
  const best = variants.map(() => Infinity);
  for (let round = 0; round < rounds; ++round) {
    for (let k = 0; k < variants.length; ++k) {
      const start = performance.now();
      const outs = fusedWithExtras(e, c, labels, variants[k][1]);
      await Promise.all(outs.map(t => t.data()));
      best[k] = Math.min(best[k], performance.now() - start);
      tf.dispose(outs);
    }
    log(`  extras round ${round + 1}/${rounds}: ${variants.map((v, k) => `${v[0]} ${best[k].toFixed(0)} ms`).join(', ')}`);
  }
  tf.dispose([e, c, labels]);
  return variants.map(([variant], k) => ({variant, ms: best[k], ratio: best[k] / best[0]}));
}

export function cceExtrasTable(rows: ExtrasRow[], rounds: number): string {
  return [`Returned extras vs plain fused CE (best of ${rounds} interleaved rounds):`, '',
          '| variant | time | vs fused kernel |', '|---|---|---|',
          ...rows.map(r => `| ${r.variant} | ${(r.ms / 1000).toFixed(2)} s | ${r.ratio.toFixed(3)}× |`)].join('\n');
}
