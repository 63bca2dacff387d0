/**
 * `npm run bench -- --op cce|moe|head` entry on Node (cpu, tensorflow, webgpu;
 * webgl runs in Chromium through run_browser_bench.mjs, with the same flags:
 * bench_flags.ts). Prints each result as it comes and a markdown section at
 * the end, also written to <out>/<op>-<backend>.md (cce-vocab-<backend>.md
 * for --vocab-sweep).
 */
// tfjs-core's ESM entry registers no gradients; @tensorflow/tfjs would.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {BenchFlags, parseBenchArgs} from './bench_flags';
import {benchCce, benchCceExtras, cceExtrasTable, cceTable} from './cce_bench';
import {CceShape, cceShapes, CceTarget, describeShape, isSoftwareTarget} from './cce_shapes';
import {describeMachine} from './machine';
import {benchHead, headTable} from './head_bench';
import {formatBytes} from './measure';
import {benchMoe, moeTable} from './moe_bench';
import {memoryBudget} from './naive_peak';
import {benchVocabSweep, largestVocabLine, vocabSweepTable} from './vocab_sweep';
import {describeAdapter, forwardThroughput, isSoftwareAdapter, throughputLine} from './webgpu_bench';
import {programTable, programTimes} from './webgpu_programs';

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

/**
 * webgpu: the device tfjs asks for (the adapter's limits), or one with
 * WebGPU's default limits, which `auto` picks for the vocabulary sweep on a
 * software adapter: there the adapter's 1 GiB bindings would let naive's
 * logits grow to 10 GiB of host memory before failing, while at the default
 * 128 MiB the failure shows at a scaled N.
 */
async function chooseWebGPUDevice(flags: BenchFlags, adapter: string): Promise<'adapter'|'default'> {
  const choice = flags['webgpu-limits'] === 'auto' ? (flags['vocab-sweep'] && isSoftwareAdapter(adapter) ? 'default' : 'adapter') :
                                                     flags['webgpu-limits'] as 'adapter'|'default';
  if (choice === 'default') (await import('./webgpu_device')).useWebGPUDefaultLimits();
  return choice;
}

const today = () => new Date().toISOString().slice(0, 10);

function writeSection(out: string, file: string, text: string) {
  mkdirSync(out, {recursive: true});
  writeFileSync(path.join(out, file), text);
}

async function runMoe(flags: BenchFlags, given: Set<string>, machine: string, adapter: string|undefined) {
  // The shape, or on a software adapter one scaled down so the dense path takes about a minute.
  const scaled = adapter != null && isSoftwareAdapter(adapter) && !['n', 'd', 'h'].some(f => given.has(f));
  if (scaled) console.log(`software adapter (${adapter}): shape scaled down from N=4096 D=256 H=1024`);
  const shape = {n: flags.n ?? (scaled ? 1024 : 4096), d: flags.d ?? (scaled ? 64 : 256),
                 h: flags.h ?? (scaled ? 256 : 1024), e: flags.e, k: flags.k};
  const dims = `N=${shape.n} D=${shape.d} H=${shape.h} E=${shape.e} k=${shape.k}`;
  console.log(`MoE FFN forward + backward, ${dims}`);
  const table = moeTable(await benchMoe(shape, flags.repeats ?? 1, s => console.log(s), flags.variants.split(',')));
  const section = `### MoE feed-forward forward+backward, ${dims}\n\nMachine: ${machine}. ${today()}.\n\n${table}\n`;
  console.log(`\n${section}`);
  writeSection(flags.out, `moe-${flags.backend}.md`, section);
}

async function runHead(flags: BenchFlags, machine: string) {
  if (flags.v != null && flags.v.length !== 1) {
    throw new Error(`bench: --op head takes one vocabulary size, got --v ${flags.v.join(',')}`);
  }
  const n = flags.n ?? 2048, t = Math.min(flags.t ?? 256, n);
  const shape = {b: Math.max(1, Math.floor(n / t)), t, d: flags.d ?? 128, v: flags.v?.[0] ?? 32768};
  console.log(`one model.fit step (trainOnBatch, SGD) of a head, B=${shape.b} T=${t} D=${shape.d} V=${shape.v}`);
  const table = headTable(shape, await benchHead(shape, flags.repeats ?? 1, s => console.log(s)));
  const section = `### One model.fit step of a language-model head, N=${shape.b * t} (B=${shape.b}, T=${t}) ` +
      `D=${shape.d} V=${shape.v}\n\nMachine: ${machine}. ${today()}.\n\n${table}\n`;
  console.log(`\n${section}`);
  writeSection(flags.out, `head-${flags.backend}.md`, section);
}

async function runCce(flags: BenchFlags, shapes: CceShape[], machine: string, adapter: string|undefined) {
  const repeats = flags.repeats ?? 1;
  let report = '';
  for (const shape of shapes) {
    console.log(`shape ${describeShape(shape)}, forward + backward (dE, dC)`);
    let section = `### linearCrossEntropy forward+backward, ${describeShape(shape)}\n\n` +
        `Machine: ${machine}. ${today()}.\n\n`;
    if (!flags['extras-only']) {
      const rows = await benchCce(shape, repeats, s => console.log(s + (adapter ? ` [${adapter}]` : '')));
      section += `${cceTable(shape, rows, adapter)}\n`;
    }
    const extrasRounds = Math.max(3, repeats);
    const extras = await benchCceExtras(shape, extrasRounds, s => console.log(s), flags.extras.split(','));
    if (extras.length > 0) section += `\n${cceExtrasTable(extras, extrasRounds)}\n`;
    if (flags.programs) {
      const times = await programTimes(shape, extrasRounds);
      section += times == null ? '\n(no per-program times: the device has no timestamp-query)\n' :
                                 `\n${programTable(times, extrasRounds)}\n`;
    }
    if (flags.backend === 'webgpu' && !flags['extras-only']) {
      const t = await forwardThroughput(shape, Math.max(repeats, 1));
      section += `\n| throughput | | | | adapter |\n|---|---|---|---|---|\n${throughputLine(shape, t, adapter!)}\n`;
    }
    console.log(`\n${section}`);
    report += section + '\n';
  }
  writeSection(flags.out, `cce-${flags.backend}.md`, report);
}

async function runVocabSweep(flags: BenchFlags, shapes: CceShape[], machine: string) {
  const host = flags.backend === 'cpu' || flags.backend === 'tensorflow';
  const repeats = flags.repeats ?? 1;
  const budget = host ? memoryBudget(flags['mem-budget'], os.freemem()) : undefined;
  if (budget) console.log(`memory budget for naive and the matMul floor: ${formatBytes(budget.bytes)} (${budget.doc})`);
  const rows = await benchVocabSweep(shapes, {repeats, log: s => console.log(s), budget,
                                              floor: host});
  const {n, d} = shapes[0];
  const timing = `Times: best of ${repeats} timed round${repeats > 1 ? 's' : ''}, each running every variant in ` +
      `turn after one profiled run of each, so they share the machine's load.`;
  const notes = host ?
      `Naive's peak is estimated before it runs as 4 B·(10·N·V + 2·V·D + 2·N·D) (packages/bench/src/naive_peak.ts) ` +
          `and run only within a budget of ${formatBytes(budget!.bytes)} (${budget!.doc}). The floor is three ` +
          `same-shape matMuls on this backend (E·Cᵀ, G·C, Gᵀ·E). ${timing} Peak memory: tfjs's tracked bytes ` +
          `above the inputs.` :
      `Naive runs at every V; its failures are results. ${timing}`;
  const section = `### linearCrossEntropy forward+backward at real vocabularies, N=${n} D=${d}\n\n` +
      `Machine: ${machine}. ${today()}.\n\n${notes}\n\n${vocabSweepTable(rows)}\n\n${largestVocabLine(rows)}\n`;
  console.log(`\n${section}`);
  writeSection(flags.out, `cce-vocab-${flags.backend}.md`, section);
}

async function main() {
  const {flags, given} = parseBenchArgs(process.argv.slice(2));
  if (flags.backend === 'webgl') {
    throw new Error('--backend webgl runs in headless Chromium: start it with `npm run bench -- --backend webgl ...` ' +
                    '(scripts/bench.mjs hands it to packages/bench/src/run_browser_bench.mjs)');
  }
  await LOADERS[flags.backend]?.();
  const adapter = flags.backend === 'webgpu' ? await describeAdapter() : undefined;
  const device = adapter != null ? await chooseWebGPUDevice(flags, adapter) : undefined;
  if (!(await tf.setBackend(flags.backend))) {
    throw new Error(`--backend '${flags.backend}' could not be initialised (registered: ${
        Object.keys(tf.engine().registryFactory).join(', ')})`);
  }
  await tf.ready();
  const limits = device != null ?
      `, ${device === 'default' ? 'a device with WebGPU\'s default limits' : 'the adapter\'s limits'} (${
          (await import('./webgpu_device')).describeDeviceLimits()})` :
      '';
  const machine = describeMachine() + (adapter ? `, adapter ${adapter}${limits}` : '');
  console.log(`sluice bench: ${flags.op} on ${machine}`);
  if (flags.op === 'moe') {
    await runMoe(flags, given, machine, adapter);
    return;
  }
  if (flags.op === 'head') {
    await runHead(flags, machine);
    return;
  }
  const target: CceTarget = adapter == null ? 'host' : isSoftwareAdapter(adapter) ? 'software-webgpu' : 'gpu';
  const shapes = cceShapes({n: flags.n, d: flags.d, v: flags.v, shapes: flags.shapes, vocabSweep: flags['vocab-sweep']},
                           target);
  if (isSoftwareTarget(target) && !['n', 'd', 'v', 'shapes'].some(f => given.has(f))) {
    console.log(`software adapter (${adapter}): shapes scaled down from N=4096 D=256 to ${
        shapes.map(describeShape).join(', ')}`);
  }
  if (flags['vocab-sweep']) {
    await runVocabSweep(flags, shapes, machine);
  } else {
    await runCce(flags, shapes, machine, adapter);
  }
}

main().then(() => process.exit(0), err => {
  const message = (err as Error).message;
  console.error(message.startsWith('bench: ') ? message : `bench failed: ${message}`);
  process.exit(1);
});
