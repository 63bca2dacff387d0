/**
 * Browser side of the webgl cross-entropy benchmark (bundled to an IIFE by
 * run_browser_bench.mjs): forward + backward (dE, dC) of
 *   naive      matMul + tf.losses.softmaxCrossEntropy on one-hot labels,
 *   kernel     linearCrossEntropy through @sluice/backend-webgl's kernels (and + maxSup),
 *   composite  linearCrossEntropy forced onto its stock-op composite,
 * side by side on the same shapes, then each returned extra against plain fused CE (with `sweep=1`: naive and kernel at the
 * real vocabularies, vocab_sweep.ts). Time: best of `repeats` runs with results
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

import {benchCce, benchCceExtras, cceExtrasTable, cceTable} from '../src/cce_bench';
import {CceShape, cceShapes, describeShape} from '../src/cce_shapes';
import {benchVocabSweep, largestVocabLine, vocabSweepTable} from '../src/vocab_sweep';
import {log, post, webglRenderer} from './page';

/** Query parameters (run_browser_bench.mjs passes the parsed flags): shapes, or n, d, v; sweep; repeats; extras. */
function shapesFrom(params: URLSearchParams, software: boolean): CceShape[] {
  const int = (key: string) => params.has(key) ? Number(params.get(key)) : undefined;
  return cceShapes({n: int('n'), d: int('d'), v: params.get('v')?.split(',').map(Number),
                    shapes: params.get('shapes') ?? undefined,
                    vocabSweep: params.get('sweep') === '1'},
                   software ? 'software-webgl' : 'gpu');
}

async function main() {
  const params = new URLSearchParams(location.search);
  // Freed textures are deleted at once instead of pooled, so the texture
  // count is the bytes in use and one variant cannot reuse another's pool.
  tf.env().set('WEBGL_DELETE_TEXTURE_THRESHOLD', 0);
  if (!(await tf.setBackend('webgl'))) throw new Error('the webgl backend could not be initialised');
  const gpu = webglRenderer();
  const software = /swiftshader|llvmpipe|software/i.test(gpu);
  const repeats = Number(params.get('repeats') ?? 2);
  const sweep = params.get('sweep') === '1';
  const extrasOnly = params.get('extrasOnly') === '1';
  const shapes = shapesFrom(params, software);
  const maxTex = tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
  log(`webgl renderer: ${gpu}; max texture ${maxTex}; ${navigator.userAgent}`);
  if (software && !['shapes', 'n', 'd', 'v'].some(k => params.has(k))) {
    log(`software renderer: shapes scaled down from N=4096 D=256 to ${shapes.map(describeShape).join(', ')} ` +
        `(pass --n 4096 --d 256 for the full ones)`);
  }
  const beyond = (s: CceShape) => `N×V ${s.n * s.v > maxTex * maxTex ? '>' : '<='} max texture²`;
  if (sweep) {
    const rows = await benchVocabSweep(shapes, {repeats, log, floor: false});
    const {n, d} = shapes[0];
    const section = `### linearCrossEntropy forward+backward at real vocabularies on webgl, N=${n} D=${d}\n\n` +
        `Renderer: ${gpu}, max texture ${maxTex}. ${new Date().toISOString().slice(0, 10)}. ` +
        `Naive runs at every V (${shapes.map(s => `V=${s.v}: ${beyond(s)}`).join('; ')}); its failures are ` +
        `results. Times: best of ${repeats} timed round(s), each running every variant in turn after one profiled run of each.\n\n${vocabSweepTable(rows)}\n\n${largestVocabLine(rows)}\n`;
    log(section);
    await post('done', {renderer: gpu, markdown: section});
    return;
  }
  const sections: string[] = [];
  for (const shape of shapes) {
    log(`shape ${describeShape(shape)}, forward + backward (dE, dC); ${beyond(shape)}`);
    let section = `### linearCrossEntropy forward+backward on webgl, ${describeShape(shape)}\n\n`;
    if (!extrasOnly) {
      const rows = await benchCce(shape, repeats, log, {kernelLabel: 'fused kernel (@sluice/backend-webgl)'});
      section += `${cceTable(shape, rows, gpu)}\n`;
    } else {
      section += `Renderer: ${gpu}.\n`;
    }
    // Each returned extra against plain fused CE, interleaved rounds (issue 18.2 / 18.7 on this backend too).
    const extrasRounds = Math.max(3, repeats);
    const extras = await benchCceExtras(shape, extrasRounds, log, params.get('extras')?.split(','));
    if (extras.length > 0) section += `\n${cceExtrasTable(extras, extrasRounds)}\n`;
    sections.push(section);
    log(section);
  }
  await post('done', {renderer: gpu, markdown: sections.join('\n')});
}

main().catch(e => {
  log(`benchmark failed: ${(e as Error).stack ?? e}`);
  void post('done', {error: String((e as Error).message ?? e)});
});
