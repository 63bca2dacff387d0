/**
 * `npm run bench` entry. Prints each result as it comes and a markdown table
 * at the end (also written to .build/bench/<op>-<backend>.md).
 */
// tfjs-core's ESM entry registers no gradients; @tensorflow/tfjs would.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {parseArgs} from './args';
import {benchCce, benchCceExtras, cceExtrasTable, CceShape, cceTable} from './cce_bench';
import {benchMoe, moeTable} from './moe_bench';
import {describeMachine} from './machine';
import {describeAdapter, forwardThroughput, isSoftwareAdapter, throughputLine} from './webgpu_bench';

/**
 * Backends loaded only when asked for. tfjs-node is a native addon (kept out
 * of the bundle by scripts/bench.mjs) and brings its own tfjs-core build; its
 * 'tensorflow' backend is the one tfjs-node-gpu provides too.
 */
const LOADERS: Record<string, () => Promise<void>> = {
  tensorflow: async () => {
    await import('@tensorflow/tfjs-node');
    await import('@sluice/backend-node');
  },
  // In Node, WebGPU comes from Dawn (the `webgpu` npm package, external to the
  // bundle); it must be in place before tfjs-backend-webgpu loads.
  webgpu: async () => {
    await import('@sluice/backend-webgpu/node/dawn');
    await import('@tensorflow/tfjs-backend-webgpu');
    await import('@sluice/backend-webgpu');
  },
};

const SPEC = {
  op: {default: 'cce', help: 'which benchmark: cce (fused cross-entropy) or moe (sparse expert dispatch)'},
  h: {default: 1024, help: 'moe: hidden units per expert'},
  e: {default: 32, help: 'moe: experts'},
  k: {default: 2, help: 'moe: experts per token'},
  variants: {default: 'dense,loop,sparse', help: 'moe: which of dense, loop, sparse to run (sparse always runs)'},
  backend: {default: 'cpu', help: 'tfjs backend: cpu, tensorflow (tfjs-node), webgpu (Dawn)'},
  n: {default: 2048, help: 'tokens'},
  d: {default: 128, help: 'hidden size'},
  v: {default: 32768, help: 'vocabulary size'},
  repeats: {default: 1, help: 'timed repeats per variant (best is kept), after one profiled run'},
  out: {default: '.build/bench', help: 'folder for the markdown results'},
};

/**
 * GPU backends run the shapes N=4096, D=256 at V=32768 and 131072
 * unless shapes are given. On a software adapter they are scaled down until
 * naive finishes in about a minute (DESIGN.md); the shapes used are printed.
 */
function benchShapes(args: {n: number, d: number, v: number}, adapter?: string): CceShape[] {
  const given = process.argv.some(a => ['--n', '--d', '--v'].includes(a));
  if (adapter == null || given) {
    return [{n: args.n, d: args.d, v: args.v}];
  }
  if (isSoftwareAdapter(adapter)) {
    console.log(`software adapter (${adapter}): shapes scaled down from N=4096 D=256 V=32768/131072`);
    return [{n: 1024, d: 64, v: 8192}, {n: 1024, d: 64, v: 32768}];
  }
  return [{n: 4096, d: 256, v: 32768}, {n: 4096, d: 256, v: 131072}];
}

async function main() {
  const args = parseArgs(process.argv.slice(2), SPEC, 'usage: npm run bench -- [options]');
  if (args.op !== 'cce' && args.op !== 'moe') {
    throw new Error(`--op must be one of 'cce', 'moe', got '${args.op}'`);
  }
  await LOADERS[args.backend]?.();
  if (!(await tf.setBackend(args.backend))) {
    throw new Error(`--backend '${args.backend}' could not be initialised (registered: ${
        Object.keys(tf.engine().registryFactory).join(', ')})`);
  }
  await tf.ready();
  const adapter = args.backend === 'webgpu' ? await describeAdapter() : undefined;
  const machine = describeMachine() + (adapter ? `, adapter ${adapter}` : '');
  console.log(`sluice bench: ${args.op} on ${machine}`);
  if (args.op === 'moe') {
    // The shape, or on a software adapter one scaled down so the dense path takes about a minute.
    const given = (flag: string) => process.argv.includes(flag);
    const scaled = adapter != null && isSoftwareAdapter(adapter) && !['--n', '--d', '--h'].some(given);
    if (scaled) console.log(`software adapter (${adapter}): shape scaled down from N=4096 D=256 H=1024`);
    const n = given('--n') ? args.n : scaled ? 1024 : 4096, d = given('--d') ? args.d : scaled ? 64 : 256;
    const shape = {n, d, h: scaled ? 256 : args.h, e: args.e, k: args.k};
    console.log(`MoE FFN forward + backward, N=${n} D=${d} H=${shape.h} E=${shape.e} k=${shape.k}`);
    const table = moeTable(await benchMoe(shape, args.repeats, s => console.log(s), String(args.variants).split(',')));
    const section = `### MoE feed-forward forward+backward, N=${n} D=${d} H=${shape.h} E=${shape.e} k=${shape.k}\n\n` +
        `Machine: ${machine}. ${new Date().toISOString().slice(0, 10)}.\n\n${table}\n`;
    console.log(`\n${section}`);
    mkdirSync(args.out, {recursive: true});
    writeFileSync(path.join(args.out, `moe-${args.backend}.md`), section);
    return;
  }
  const shapes = benchShapes(args, adapter);
  let report = '';
  for (const shape of shapes) {
    console.log(`shape N=${shape.n} D=${shape.d} V=${shape.v}, forward + backward (dE, dC)`);
    const rows = await benchCce(shape, args.repeats, s => console.log(s + (adapter ? ` [${adapter}]` : '')));
    const table = cceTable(shape, rows, adapter);
    let section = `### linearCrossEntropy forward+backward, N=${shape.n} D=${shape.d} V=${shape.v}\n\n` +
        `Machine: ${machine}. ${new Date().toISOString().slice(0, 10)}.\n\n${table}\n`;
    const extrasRounds = Math.max(3, args.repeats);
    const extras = await benchCceExtras(shape, extrasRounds, s => console.log(s));
    if (extras.length > 0) section += `\n${cceExtrasTable(extras, extrasRounds)}\n`;
    if (args.backend === 'webgpu') {
      const t = await forwardThroughput(shape, Math.max(args.repeats, 1));
      section += `\n| throughput | | | | adapter |\n|---|---|---|---|---|\n${throughputLine(shape, t, adapter!)}\n`;
    }
    console.log(`\n${section}`);
    report += section + '\n';
  }
  mkdirSync(args.out, {recursive: true});
  writeFileSync(path.join(args.out, `${args.op}-${args.backend}.md`), report);
}

main().then(() => process.exit(0), err => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
