/**
 * Browser side of the webgl MoE benchmark (bundled to an IIFE by
 * run_browser_bench.mjs): `benchMoe` of ../src/moe_bench.ts (GShard dense
 * dispatch, the per-expert gather loop and sluice's sparse dispatch, whole FFN
 * and dispatch + combine alone) on tfjs's webgl backend with
 * @sluice/backend-webgl's kernels. Every line is shown on the page and posted
 * to the server as it comes.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-webgl';
import '@sluice/backend-webgl';

import * as tf from '@tensorflow/tfjs-core';

import {benchMoe, MoeShape, moeTable} from '../src/moe_bench';
import {log, post, webglRenderer} from './page';

const FULL = {n: 4096, d: 256, h: 1024, e: 32, k: 2};
// SwiftShader runs webgl's matMul at about 2 GFLOP/s: scaled so the dense
// path takes seconds, not minutes.
const SOFTWARE = {n: 1024, d: 64, h: 256, e: 32, k: 2};

async function main() {
  const params = new URLSearchParams(location.search);
  tf.env().set('WEBGL_DELETE_TEXTURE_THRESHOLD', 0);  // texture bytes in use = bytes live
  if (!(await tf.setBackend('webgl'))) throw new Error('the webgl backend could not be initialised');
  const gpu = webglRenderer();
  const software = /swiftshader|llvmpipe|software/i.test(gpu);
  const base = software ? SOFTWARE : FULL;
  const shape = {...base} as MoeShape;
  for (const key of ['n', 'd', 'h', 'e', 'k'] as const) {
    const value = params.get(key);
    if (value == null) continue;
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`${key} must be a positive integer, got '${value}'`);
    shape[key] = Number(value);
  }
  const repeats = Number(params.get('repeats') ?? 2);
  log(`webgl renderer: ${gpu}; ${navigator.userAgent}`);
  if (software) log(`software renderer: default shape scaled down from N=4096 D=256 H=1024 E=32 k=2`);
  log(`MoE FFN forward + backward, N=${shape.n} D=${shape.d} H=${shape.h} E=${shape.e} k=${shape.k}`);
  const rows = await benchMoe(shape, repeats, log, params.get('variants')?.split(','));
  const table = moeTable(rows);
  log(table);
  const title = `### MoE feed-forward forward+backward on webgl, N=${shape.n} D=${shape.d} H=${shape.h} ` +
      `E=${shape.e} k=${shape.k}\n\nRenderer: ${gpu}. ${new Date().toISOString().slice(0, 10)}.\n\n`;
  await post('done', {renderer: gpu, markdown: `${title}${table}\n`});
}

main().catch(e => {
  log(`benchmark failed: ${(e as Error).stack ?? e}`);
  void post('done', {error: String((e as Error).message ?? e)});
});
