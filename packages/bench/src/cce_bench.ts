/**
 * Fused linear cross-entropy, forward + backward, against the way tfjs users
 * write it today: logits = matMul(E, Cᵀ), tf.losses.softmaxCrossEntropy on
 * one-hot labels, tf.grads. Time and peak memory are measured side by side in
 * one process on one backend; the ratios are what the README reports.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, LinearCrossEntropyOptions, SLUICE_FORCE_COMPOSITE, SluiceLinearCrossEntropy} from '@sluice/core';

import {EXTRA_KEYS, ExtraKey} from './extra_keys';
import type {CceShape} from './cce_shapes';
import {formatBytes, measure, MeasuredRow, ratioTable} from './measure';
import {median, MedianInterval, medianInterval} from './ratio_stats';

export type {CceShape};

export type CceRow = MeasuredRow;

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
  return ratioTable(rows, {timeHeader: 'time', logitsBytes: shape.n * shape.v * 4, adapter});
}

// ---------------------------------------------------------------- returned extras (issue 18.2)

type Options = LinearCrossEntropyOptions;
const CONTROL = 'plain again (A/A control)';
/**
 * Each returned extra, and the options whose cost issue 18 bounds too (maxSup, classWeights), one at a time,
 * under its --extras name (a Record, so a name of EXTRA_KEYS without a row does not compile).
 */
const EXTRAS: Record<ExtraKey, [string, (classWeights: tf.Tensor1D) => Options]> = {
  zloss: ['+ returnZLoss', () => ({returnZLoss: true})],
  predictions: ['+ returnPredictions', () => ({returnPredictions: true})],
  accuracy: ['+ returnAccuracy', () => ({returnAccuracy: true})],
  entropy: ['+ returnEntropy', () => ({returnEntropy: true})],
  all: ['+ all four', () => ({returnZLoss: true, returnPredictions: true, returnAccuracy: true, returnEntropy: true})],
  maxsup: ['+ maxSup 0.1', () => ({maxSup: 0.1})],
  classweights: ['+ classWeights', classWeights => ({classWeights})],
};

/** Forward + backward of the loss with `extra` options; the extras are kept and returned so reading them forces them. */
function fusedWithExtras(e: tf.Tensor2D, c: tf.Tensor2D, labels: tf.Tensor1D, extra: Options): tf.Tensor[] {
  const kept: tf.Tensor[] = [];
  const options: Options = {zLoss: 1e-4, ...extra};
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
  /** Best wall time over the rounds. */
  ms: number;
  /** Median over the rounds of (this variant's wall time / plain fused CE's in the same round). */
  ratio: number;
  /** Its 95% distribution-free interval (ratio_stats.ts). */
  ratioCi: MedianInterval;
  /** Median over the rounds of the same ratio in process CPU time (Node only: undefined in a browser). */
  cpuRatio?: number;
  cpuRatioCi?: MedianInterval;
}

/** Process CPU time in ms (user + system, every thread: tfjs-node's and Dawn/SwiftShader's too), or undefined. */
function cpuMs(): number|undefined {
  const p = (globalThis as {process?: {cpuUsage?: () => {user: number, system: number}}}).process;
  if (p?.cpuUsage == null) return undefined;
  const {user, system} = p.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Each extra against plain fused CE (zLoss 1e-4 in both, so the z-loss term
 * itself is not what is measured), on the registered kernel. Every round runs
 * plain fused CE and then each variant; a variant's ratio is the median over
 * rounds of its time over plain's in the same round, so a load that comes and
 * goes between rounds cancels. In Node the same ratio is also taken in process
 * CPU time, which other processes on the machine disturb far less than wall time.
 */
export async function benchCceExtras(shape: CceShape, rounds: number, log: (s: string) => void,
                                     only: readonly string[] = EXTRA_KEYS): Promise<ExtrasRow[]> {
  if (tf.getKernel(SluiceLinearCrossEntropy, tf.getBackend()) == null) return [];
  const {e, c, labels} = inputs(shape);
  const classWeights = tf.add(tf.randomUniform([shape.v], 0, 1, 'float32', 5), 0.5) as tf.Tensor1D;
  // The control is the same call as plain: its ratio is this run's noise floor, which every other row is read against.
  const variants: Array<[string, Options]> = [['fused kernel (zLoss 1e-4)', {}], [CONTROL, {}],
                                               ...EXTRA_KEYS.filter(key => only.includes(key))
                                                   .map(key => [EXTRAS[key][0], EXTRAS[key][1](classWeights)] as [string, Options])];
  const run = async (options: Options) => {
    const outs = fusedWithExtras(e, c, labels, options);
    await Promise.all(outs.map(t => t.data()));
    tf.dispose(outs);
  };
  // One untimed call each compiles its programs (GPU backends) before any round.
  for (const [, options] of variants) await run(options);
  const wall: number[][] = variants.map(() => []);
  const cpu: number[][] = variants.map(() => []);
  for (let round = 0; round < rounds; ++round) {
    // The order rotates by one each round, so no variant always runs first (or after the same one).
    for (let j = 0; j < variants.length; ++j) {
      const k = (round + j) % variants.length;
      const cpu0 = cpuMs(), start = performance.now();
      await run(variants[k][1]);
      wall[k].push(performance.now() - start);
      const cpu1 = cpuMs();
      if (cpu0 != null && cpu1 != null) cpu[k].push(cpu1 - cpu0);
    }
    log(`  extras round ${round + 1}/${rounds}: ${variants.map((v, k) => `${v[0]} ${wall[k][round].toFixed(0)} ms`).join(', ')}`);
  }
  tf.dispose([e, c, labels, classWeights]);
  const ratios = (times: number[][], k: number) => times[k].map((t, round) => t / times[0][round]);
  return variants.map(([variant], k) => {
    const wallRatios = ratios(wall, k);
    const cpuRatios = cpu[k].length === rounds ? ratios(cpu, k) : undefined;
    return {
      variant, ms: Math.min(...wall[k]), ratio: median(wallRatios), ratioCi: medianInterval(wallRatios),
      cpuRatio: cpuRatios && median(cpuRatios), cpuRatioCi: cpuRatios && medianInterval(cpuRatios),
    };
  });
}

/** `1.012× [0.998, 1.025]`: a median ratio and its interval (or the range, marked, when too few rounds allow none). */
function ratioCell(ratio: number, ci: MedianInterval): string {
  const range = `${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}`;
  return `${ratio.toFixed(3)}× ${Number.isNaN(ci.coverage) ? `(range ${range})` : `[${range}]`}`;
}

export function cceExtrasTable(rows: ExtrasRow[], rounds: number): string {
  const withCpu = rows.every(r => r.cpuRatio != null);
  const coverage = rows.find(r => !Number.isNaN(r.ratioCi.coverage))?.ratioCi.coverage;
  return [`Returned extras, maxSup and classWeights vs plain fused CE (${rounds} rounds, each running plain fused CE ` +
              `and every variant once, in an order rotated each round; ratios are medians over the rounds of the variant's time over plain's in the ` +
              `same round${withCpu ? ', in wall time and in the process\'s CPU time' : ''}, with ` +
              (coverage == null ? 'the range over the rounds (too few rounds for a 95% interval)' :
                                  `the distribution-free interval of the median (coverage ${(100 * coverage).toFixed(1)}%)`) +
              `; "${CONTROL}" runs plain again, so its row is this run's noise floor):`, '',
          `| variant | best time | vs fused kernel (wall) |${withCpu ? ' vs fused kernel (CPU time) |' : ''}`,
          `|---|---|---|${withCpu ? '---|' : ''}`,
          ...rows.map(r => `| ${r.variant} | ${(r.ms / 1000).toFixed(2)} s | ${ratioCell(r.ratio, r.ratioCi)} |` +
                          (withCpu ? ` ${ratioCell(r.cpuRatio!, r.cpuRatioCi!)} |` : ''))].join('\n');
}
