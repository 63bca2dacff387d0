/**
 * Where the GPU time of one fused CE forward + backward goes on webgpu,
 * program by program, for plain fused CE and the options that add terms to
 * its kernels (maxSup, classWeights, label smoothing): tfjs's `tf.time`
 * wraps every program in timestamp queries when the adapter has
 * 'timestamp-query'. These times exclude JavaScript and submission overhead,
 * so an option's cost shows in the program that pays it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, LinearCrossEntropyOptions} from '@sluice/core';

import {inputs} from './cce_bench';
import type {CceShape} from './cce_shapes';

type Timed = tf.TimingInfo & {getExtraProfileInfo?: () => string};

/** Program name → GPU ms, summed over the program's dispatches, from tfjs-webgpu's "name: ms, ..." list. */
function perProgram(info: Timed): Map<string, number> {
  const per = new Map<string, number>();
  for (const item of (info.getExtraProfileInfo?.() ?? '').split(', ')) {
    const at = item.lastIndexOf(': ');
    if (at < 0) continue;
    const name = item.slice(0, at);
    per.set(name, (per.get(name) ?? 0) + Number(item.slice(at + 2)));
  }
  return per;
}

export interface ProgramTimes {
  variants: string[];
  /** Per variant, the program times of its round with the smallest total. */
  programs: Array<Map<string, number>>;
  totals: number[];
}

/** `rounds` rounds, each timing every variant once; per variant the round with the least total GPU time is kept. */
export async function programTimes(shape: CceShape, rounds: number): Promise<ProgramTimes|null> {
  const device = (tf.backend() as unknown as {device?: GPUDevice}).device;
  if (tf.getBackend() !== 'webgpu' || !device?.features.has('timestamp-query')) return null;
  const {e, c, labels} = inputs(shape);
  const classWeights = tf.add(tf.randomUniform([shape.v], 0, 1, 'float32', 5), 0.5) as tf.Tensor1D;
  const variants: Array<[string, LinearCrossEntropyOptions]> = [
    ['plain (zLoss 1e-4)', {zLoss: 1e-4}], ['+ maxSup 0.1', {zLoss: 1e-4, maxSup: 0.1}],
    ['+ classWeights', {zLoss: 1e-4, classWeights}], ['+ labelSmoothing 0.1', {zLoss: 1e-4, labelSmoothing: 0.1}],
  ];
  const programs: Array<Map<string, number>> = variants.map(() => new Map());
  const totals = variants.map(() => Infinity);
  try {
    for (let round = 0; round < rounds + 1; ++round) {
      for (let k = 0; k < variants.length; ++k) {
        const info = await tf.time(() => {
          tf.dispose(tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
                                  linearCrossEntropy(ee, cc, labels, variants[k][1]) as tf.Scalar)([e, c]));
        }) as Timed;
        const per = perProgram(info);
        const total = [...per.values()].reduce((a, b) => a + b, 0);
        // Round 0 compiles the pipelines and is not kept.
        if (round > 0 && total < totals[k]) {
          programs[k] = per;
          totals[k] = total;
        }
      }
    }
  } finally {
    tf.dispose([e, c, labels, classWeights]);
  }
  return {variants: variants.map(v => v[0]), programs, totals};
}

export function programTable(t: ProgramTimes, rounds: number): string {
  const names = [...new Set(t.programs.flatMap(p => [...p.keys()]))];
  const ms = (x: number) => x.toFixed(1);
  return [`GPU time per program (timestamp queries; per variant its round of least total GPU time, of ${rounds}):`, '',
          `| program | ${t.variants.join(' | ')} |`, `|---|${t.variants.map(() => '---|').join('')}`,
          ...names.map(name => `| ${name} | ${t.programs.map(p => `${ms(p.get(name) ?? 0)} ms`).join(' | ')} |`),
          `| total | ${t.totals.map(x => `${ms(x)} ms`).join(' | ')} |`,
          `| vs plain | ${t.totals.map(x => `${(x / t.totals[0]).toFixed(3)}×`).join(' | ')} |`].join('\n');
}
