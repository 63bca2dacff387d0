/**
 * The cross-entropy bench at real vocabularies (`--vocab-sweep`): for each V,
 * forward + backward (dE, dC) of naive tfjs (matMul + softmaxCrossEntropy on
 * one-hot labels) and of the fused linearCrossEntropy, side by side on one
 * backend, and on host backends the matMul floor (matmul_floor.ts).
 *
 * - Host backends (cpu, tensorflow) get a memory budget: naive's peak is
 *   estimated first (naive_peak.ts) and a shape past the budget is reported
 *   as "does not fit" with its estimate instead of run; where naive runs,
 *   the measured peak is printed beside the estimate.
 * - GPU backends have no budget: naive runs at every V and its failures (the
 *   WebGL texture limit, the WebGPU binding limit) are results.
 * - The fused peak minus 2·V·D·4 B (dC and one more classifier-sized buffer:
 *   the input C is allocated before the measurement starts, so this is the
 *   peak net of the classifier and its gradient) shows what grows with V.
 *
 * Time: best of `repeats` interleaved rounds (sweepShape). Browser-safe: the
 * webgl page runs it too.
 */
import * as tf from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy} from '@sluice/core';

import {fused, inputs, naive} from './cce_bench';
import {CceShape, describeShape} from './cce_shapes';
import {FloorBest, matMulFloorRound, MatMulFloor} from './matmul_floor';
import {formatBytes, Measurement, profileRun, timeRun} from './measure';
import {matMulFloorPeakBytes, naivePeakBytes} from './naive_peak';

export interface SweepRow {
  shape: CceShape;
  kind: 'naive'|'fused'|'floor';
  label: string;
  m?: Measurement;
  floor?: MatMulFloor;
  /** Why the variant was not run ("does not fit: ..."). */
  skipped?: string;
  /** naive: the estimated peak (naivePeakBytes). */
  estimateBytes?: number;
}

export interface SweepOptions {
  repeats: number;
  log: (line: string) => void;
  /** Host backends: what naive and the floor may use. Left out on GPUs, where their limits decide. */
  budget?: {bytes: number, doc: string};
  /** Also time the three same-shape matMuls (host backends). */
  floor: boolean;
}

const NAIVE = 'naive (matMul + softmaxCrossEntropy)';
const FLOOR = '3 matMuls E·Cᵀ, G·C, Gᵀ·E (floor)';

function doesNotFit(estimate: number, budget: {bytes: number, doc: string}): string {
  return `does not fit: estimated peak ${formatBytes(estimate)} > budget ${formatBytes(budget.bytes)} (${budget.doc})`;
}

/**
 * Every variant first runs once profiled (peak memory, or the error that
 * stops it), then the timed rounds interleave them (naive, fused, floor,
 * naive, ...) and each keeps its best: on a shared machine the load moves
 * over minutes, and interleaving exposes every variant to the same load.
 */
async function sweepShape(shape: CceShape, opts: SweepOptions): Promise<SweepRow[]> {
  const {e, c, labels} = inputs(shape);
  await Promise.all([e, c, labels].map(t => t.data()));  // inputs in place before any measurement
  const tensorsBefore = tf.memory().numTensors;
  const hasKernel = tf.getKernel(SluiceLinearCrossEntropy, tf.getBackend()) != null;
  const estimate = naivePeakBytes(shape);
  const rows: SweepRow[] = [
    {shape, kind: 'naive', label: NAIVE, estimateBytes: estimate},
    {shape, kind: 'fused', label: hasKernel ? 'fused kernel' : 'fused composite (no sluice kernel on this backend)'},
  ];
  const runs = new Map<SweepRow, () => tf.Tensor[]>([
    [rows[0], () => naive(e, c, labels, shape.v)],
    [rows[1], () => fused(e, c, labels)],
  ]);
  opts.log(`  ${NAIVE}: estimated peak ${formatBytes(estimate)}`);
  if (opts.budget != null && estimate > opts.budget.bytes) rows[0].skipped = doesNotFit(estimate, opts.budget);
  let floor: FloorBest|undefined;
  if (opts.floor) {
    const need = matMulFloorPeakBytes(shape);
    if (opts.budget != null && need > opts.budget.bytes) {
      rows.push({shape, kind: 'floor', label: FLOOR, skipped: doesNotFit(need, opts.budget)});
    } else {
      floor = new FloorBest();
      rows.push({shape, kind: 'floor', label: FLOOR, floor});
    }
  }

  for (const [row, run] of runs) {
    if (row.skipped != null) continue;
    opts.log(`  ${row.label}: profiled run ...`);
    const profiled = await profileRun(run);
    row.m = {ms: Infinity, ...profiled};
    opts.log(`    ${profiled.error != null ? `failed: ${profiled.error}` : `peak ${formatBytes(profiled.peakBytes)}`}`);
  }
  if (floor != null) {
    opts.log(`  ${FLOOR}: warm-up ...`);
    await matMulFloorRound(shape, e, c);
  }
  for (let round = 1; round <= opts.repeats; ++round) {
    for (const [row, run] of runs) {
      if (row.m == null || row.m.error != null) continue;
      try {
        row.m.ms = Math.min(row.m.ms, await timeRun(run));
      } catch (e) {
        row.m.error = `failed in timed round ${round}: ${(e as Error).message.split('\n')[0]}`;
      }
    }
    if (floor != null) floor.add(await matMulFloorRound(shape, e, c));
    opts.log(`  round ${round}/${opts.repeats}: best so far ${rows.map(r => `${r.kind} ${
        Number.isFinite(timeOf(r)) ? `${(timeOf(r) / 1000).toFixed(2)} s` : '-'}`).join(', ')}`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) opts.log(`  note: ${leaked} tensors more after ${describeShape(shape)} than before it`);
  tf.dispose([e, c, labels]);
  return rows;
}

export async function benchVocabSweep(shapes: CceShape[], opts: SweepOptions): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const shape of shapes) {
    opts.log(`${describeShape(shape)}, forward + backward (dE, dC)`);
    rows.push(...await sweepShape(shape, opts));
  }
  return rows;
}

const vocab = (v: number) => v.toLocaleString('en-US');

function timeOf(row: SweepRow): number {
  return row.floor?.ms ?? (row.m && !row.m.error ? row.m.ms : NaN);
}

/**
 * One table over every V: time and its ratio to the floor (host backends) or
 * to naive (GPUs), the peak, and the peak net of two classifier-sized buffers.
 */
export function vocabSweepTable(rows: SweepRow[]): string {
  const hasFloor = rows.some(r => r.kind === 'floor');
  const base = hasFloor ? 'floor' : 'naive';
  const lines = [
    `| V | variant | time | time / ${hasFloor ? 'matMul floor' : 'naive'} | peak memory | peak − 2·V·D·4 B |`,
    '|---|---|---|---|---|---|',
  ];
  let lastV = -1;
  for (const row of rows) {
    const vCell = row.shape.v === lastV ? '' : vocab(row.shape.v);
    lastV = row.shape.v;
    if (row.skipped != null || row.m?.error != null) {
      lines.push(`| ${vCell} | ${row.label} | ${row.skipped ?? `failed: ${row.m!.error}`} | | | |`);
      continue;
    }
    const reference = rows.find(r => r.shape === row.shape && r.kind === base);
    const ratio = reference != null && Number.isFinite(timeOf(reference)) ? `${(timeOf(row) / timeOf(reference)).toFixed(2)}×` : 'n/a';
    if (row.floor != null) {
      const parts = row.floor.parts.map(p => (p / 1000).toFixed(2)).join(' + ');
      lines.push(`| ${vCell} | ${row.label} | ${(row.floor.ms / 1000).toFixed(2)} s (${parts}) | ${ratio} | | |`);
      continue;
    }
    const m = row.m!;
    const estimate = row.estimateBytes != null ? ` (estimated ${formatBytes(row.estimateBytes)})` : '';
    const net = m.peakBytes - 2 * row.shape.v * row.shape.d * 4;
    lines.push(`| ${vCell} | ${row.label} | ${(m.ms / 1000).toFixed(2)} s | ${ratio} | ${formatBytes(m.peakBytes)}${
        estimate} | ${formatBytes(net)} |`);
  }
  return lines.join('\n');
}

function largest(rows: SweepRow[], kind: SweepRow['kind']): string {
  const mine = rows.filter(r => r.kind === kind);
  const ran = mine.filter(r => r.m != null && r.m.error == null).map(r => r.shape.v);
  const failed = mine.find(r => r.skipped != null || r.m?.error != null);
  const best = ran.length > 0 ? `V=${vocab(Math.max(...ran))}` : 'none';
  const why = failed == null ? '' : ` (not at V=${vocab(failed.shape.v)}: ${failed.skipped ?? failed.m!.error})`;
  return `${best}${why}`;
}

/** "Largest V that ran at N=… D=…: naive …, fused …", from the rows. */
export function largestVocabLine(rows: SweepRow[]): string {
  const {n, d} = rows[0].shape;
  return `Largest V that ran at N=${n} D=${d}: naive ${largest(rows, 'naive')}; fused ${largest(rows, 'fused')}.`;
}
