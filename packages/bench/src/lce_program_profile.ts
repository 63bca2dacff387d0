/**
 * Per-program GPU time of one fused CE forward + backward on webgpu, by
 * timestamp queries (tf.time's getExtraProfileInfo), for each option set side
 * by side: what an option costs, program by program.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, LinearCrossEntropyOptions} from '@sluice/core';

import {inputs} from './cce_bench';

async function main() {
  await import('@sluice/backend-webgpu/node/dawn');
  await import('@tensorflow/tfjs-backend-webgpu');
  await import('@sluice/backend-webgpu');
  await tf.setBackend('webgpu');
  const [n, d, v, rounds] = process.argv.slice(2).map(Number);
  const shape = {n: n || 256, d: d || 64, v: v || 8192};
  const {e, c, labels} = inputs(shape);
  const cw = tf.add(tf.randomUniform([shape.v], 0, 1, 'float32', 5), 0.5) as tf.Tensor1D;
  const variants: Array<[string, LinearCrossEntropyOptions]> = [
    ['plain', {zLoss: 1e-4}], ['maxSup', {zLoss: 1e-4, maxSup: 0.1}], ['classWeights', {zLoss: 1e-4, classWeights: cw}],
    ['ls', {zLoss: 1e-4, labelSmoothing: 0.1}],
  ];
  const best = new Map<string, Map<string, number>>();
  const totals = new Map<string, number>();
  for (let r = 0; r < (rounds || 5); ++r) {
    for (const [name, opts] of variants) {
      const info = await tf.time(() => {
        const g = tf.grads((ee: tf.Tensor, cc: tf.Tensor) => linearCrossEntropy(ee, cc, labels, opts) as tf.Scalar)([e, c]);
        tf.dispose(g);
      }) as tf.TimingInfo & {getExtraProfileInfo?: () => string};
      const per = new Map<string, number>();
      for (const item of (info.getExtraProfileInfo?.() ?? '').split(', ')) {
        const [p, ms] = item.split(': ');
        per.set(p, (per.get(p) ?? 0) + Number(ms));
      }
      const prev = best.get(name);
      const total = [...per.values()].reduce((a, b) => a + b, 0);
      if (prev == null || total < (totals.get(name) ?? Infinity)) {
        best.set(name, per);
        totals.set(name, total);
      }
    }
  }
  const names = new Set<string>();
  best.forEach(m => m.forEach((_, k) => names.add(k)));
  console.log(`N=${shape.n} D=${shape.d} V=${shape.v}, GPU ms per program (best total of ${rounds || 5} rounds)`);
  console.log(['program', ...variants.map(v => v[0])].join('\t'));
  for (const p of names) console.log([p, ...variants.map(([vn]) => (best.get(vn)!.get(p) ?? 0).toFixed(2))].join('\t'));
  console.log(['TOTAL', ...variants.map(([vn]) => totals.get(vn)!.toFixed(2))].join('\t'));
  console.log('numTensors', tf.memory().numTensors);
}
main().catch(err => {
  console.error(err);
  process.exit(1);
});
