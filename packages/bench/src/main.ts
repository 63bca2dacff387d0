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
import {benchCce, cceTable} from './cce_bench';
import {describeMachine} from './machine';

const SPEC = {
  op: {default: 'cce', help: 'which benchmark: cce'},
  backend: {default: 'cpu', help: 'tfjs backend: cpu'},
  n: {default: 2048, help: 'tokens'},
  d: {default: 128, help: 'hidden size'},
  v: {default: 32768, help: 'vocabulary size'},
  repeats: {default: 1, help: 'timed repeats per variant (best is kept), after one profiled run'},
  out: {default: '.build/bench', help: 'folder for the markdown results'},
};

async function main() {
  const args = parseArgs(process.argv.slice(2), SPEC, 'usage: npm run bench -- [options]');
  if (args.op !== 'cce') {
    throw new Error(`--op must be one of 'cce', got '${args.op}'`);
  }
  if (!(await tf.setBackend(args.backend))) {
    throw new Error(`--backend '${args.backend}' could not be initialised (registered: ${
        Object.keys(tf.engine().registryFactory).join(', ')})`);
  }
  await tf.ready();
  const machine = describeMachine();
  const shape = {n: args.n, d: args.d, v: args.v};
  console.log(`sluice bench: ${args.op} on ${machine}`);
  console.log(`shape N=${shape.n} D=${shape.d} V=${shape.v}, forward + backward (dE, dC)`);
  const rows = await benchCce(shape, args.repeats, s => console.log(s));
  const table = cceTable(shape, rows);
  const report = `### linearCrossEntropy forward+backward, N=${shape.n} D=${shape.d} V=${shape.v}\n\n` +
      `Machine: ${machine}. ${new Date().toISOString().slice(0, 10)}.\n\n${table}\n`;
  console.log(`\n${report}`);
  mkdirSync(args.out, {recursive: true});
  writeFileSync(path.join(args.out, `${args.op}-${args.backend}.md`), report);
}

main().then(() => process.exit(0), err => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
