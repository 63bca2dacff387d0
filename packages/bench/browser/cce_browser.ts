/**
 * Browser side of the webgl cross-entropy benchmark (bundled to an IIFE by
 * run_browser_bench.mjs): forward + backward (dE, dC) of
 *   naive      matMul + tf.losses.softmaxCrossEntropy on one-hot labels,
 *   kernel     linearCrossEntropy through @sluice/backend-webgl's kernels,
 *   composite  linearCrossEntropy forced onto its stock-op composite,
 * side by side on the same shapes. Time: best of `repeats` runs with results
 * read back. Peak memory: the larger of tfjs's tracked tensor bytes and the
 * bytes of webgl textures in use, both observed at every change (kernel
 * scratch never becomes a tensor, so only the texture count sees it).
 * Every line is shown on the page and posted to the server as it comes.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-webgl';
import '@sluice/backend-webgl';

import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy, SLUICE_FORCE_COMPOSITE} from '@sluice/core';

import {CceRow, CceShape, cceTable} from '../src/cce_bench';
import {formatBytes, measure} from '../src/measure';
import {log, post, webglRenderer} from './page';

const FULL_SHAPES = '4096x256x32768,4096x256x131072';
// SwiftShader runs webgl's matMul at about 2 GFLOP/s: scaled so naive takes
// seconds, not hours. The second shape has N×V > 8192², where naive cannot
// allocate its logits texture at all, while the chunked kernel runs.
const SOFTWARE_SHAPES = '1024x64x8192,1024x16x81920';

function naive(e: tf.Tensor2D, c: tf.Tensor2D, labels: tf.Tensor1D, v: number): tf.Tensor[] {
  return tf.grads((ee: tf.Tensor, cc: tf.Tensor) => {
    const logits = tf.matMul(ee, cc, false, true);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, v), logits) as tf.Scalar;
  })([e, c]);
}

function fused(e: tf.Tensor2D, c: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor[] {
  return tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
                      linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, labels) as tf.Scalar)([e, c]);
}

async function benchShape(shape: CceShape, repeats: number): Promise<CceRow[]> {
  const e = tf.randomNormal([shape.n, shape.d], 0, 1, 'float32', 1) as tf.Tensor2D;
  const c = tf.randomNormal([shape.v, shape.d], 0, 1 / Math.sqrt(shape.d), 'float32', 2) as tf.Tensor2D;
  const labels = tf.randomUniform([shape.n], 0, shape.v, 'int32', 3) as tf.Tensor1D;
  await Promise.all([e, c, labels].map(t => t.data()));  // inputs on the GPU before any measurement
  const variants: Array<[string, () => tf.Tensor[], boolean]> = [
    ['naive (matMul + softmaxCrossEntropy)', () => naive(e, c, labels, shape.v), false],
    ['fused kernel (@sluice/backend-webgl)', () => fused(e, c, labels), false],
    ['fused composite (stock tfjs ops)', () => fused(e, c, labels), true],
  ];
  const rows: CceRow[] = [];
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

async function main() {
  const params = new URLSearchParams(location.search);
  // Freed textures are deleted at once instead of pooled, so the texture
  // count is the bytes in use and one variant cannot reuse another's pool.
  tf.env().set('WEBGL_DELETE_TEXTURE_THRESHOLD', 0);
  if (!(await tf.setBackend('webgl'))) throw new Error('the webgl backend could not be initialised');
  const gpu = webglRenderer();
  const software = /swiftshader|llvmpipe|software/i.test(gpu);
  const shapesParam = params.get('shapes') ?? (software ? SOFTWARE_SHAPES : FULL_SHAPES);
  const repeats = Number(params.get('repeats') ?? 2);
  const shapes = shapesParam.split(',').map(s => {
    const [n, d, v] = s.split('x').map(Number);
    if (![n, d, v].every(x => Number.isInteger(x) && x > 0)) throw new Error(`bad shape '${s}' (want NxDxV)`);
    return {n, d, v};
  });
  const maxTex = tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
  log(`webgl renderer: ${gpu}; max texture ${maxTex}; ${navigator.userAgent}`);
  if (software && !params.has('shapes')) {
    log(`software renderer: shapes scaled down from N=4096 D=256 V=32768/131072 to ${shapesParam} ` +
        `(pass --shapes ${FULL_SHAPES} for the full ones)`);
  }
  const sections: string[] = [];
  for (const shape of shapes) {
    log(`shape N=${shape.n} D=${shape.d} V=${shape.v}, forward + backward (dE, dC); N×V ${
        shape.n * shape.v > maxTex * maxTex ? '>' : '<='} max texture²`);
    const rows = await benchShape(shape, repeats);
    const table = cceTable(shape, rows, gpu);
    sections.push(`### linearCrossEntropy forward+backward on webgl, N=${shape.n} D=${shape.d} V=${shape.v}\n\n` +
                  `${table}\n`);
    log(table);
  }
  await post('done', {renderer: gpu, markdown: sections.join('\n')});
}

main().catch(e => {
  log(`benchmark failed: ${(e as Error).stack ?? e}`);
  void post('done', {error: String((e as Error).message ?? e)});
});
