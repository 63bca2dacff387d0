/**
 * Seeded case generators for the fuzz suite (fuzz_suite.ts): every case is a
 * pure function of its seed (shapes, options and data), with a one-line
 * description to print on failure, plus the float64 expectations the suite
 * cannot take from the references in ../reference directly (gradients of
 * routeTopK and groupedMatMul). No tfjs here.
 */
import type {LinearCrossEntropyOptions} from '../ops/linear_cross_entropy_options';
import {dispatchReference, expertCombineReference, groupedMatMulReference, staticSourceRows,
        routeTopKReference, routerScoresReference} from '../reference/expert_dispatch_ref';
import {lceReferenceForward, LceRefForward, LceRefInput,
        lceReferenceShiftLabels} from '../reference/linear_cross_entropy_ref';

import {seededRandom, uniformArray} from './random';

export const FUZZ_OPS = ['linearCrossEntropy', 'topOneSuppression', 'routeTopK', 'expertDispatch', 'groupedMatMul',
                         'expertCombine'] as const;
export type FuzzOp = typeof FUZZ_OPS[number];

/** Share of each run's cases per op (linearCrossEntropy has the most options). */
export const FUZZ_WEIGHTS: Record<FuzzOp, number> = {
  linearCrossEntropy: 0.35,
  topOneSuppression: 0.13,
  routeTopK: 0.13,
  expertDispatch: 0.13,
  groupedMatMul: 0.13,
  expertCombine: 0.13,
};

/** The seed of case `index` of `op` in a run with base seed `base` (a 32-bit mix, so nearby cases differ). */
export function caseSeed(base: number, op: FuzzOp, index: number): number {
  let h = (base >>> 0) ^ Math.imul(FUZZ_OPS.indexOf(op) + 1, 0x85EBCA77) ^ Math.imul(index + 1, 0xC2B2AE3D);
  h = Math.imul(h ^ (h >>> 16), 0x7FEB352D);
  h = Math.imul(h ^ (h >>> 15), 0x846CA68B);
  return (h ^ (h >>> 16)) >>> 0;
}

class Draw {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = seededRandom(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)];
  }
  /** Integer in [lo, hi], usually moved off multiples of 2, 4, 8, ... (block sizes). */
  awkward(lo: number, hi: number): number {
    let x = this.int(lo, hi);
    if (this.chance(0.8) && x % 2 === 0) x = x + 1 <= hi ? x + 1 : Math.max(lo, x - 1);
    return x;
  }
  /** Log-uniform integer in [lo, hi]: small sizes as often as large ones. */
  logInt(lo: number, hi: number): number {
    return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + this.rand() * (Math.log(hi + 1) - Math.log(lo)))));
  }
}

const fmt = (x: number) => Number.isInteger(x) ? String(x) : x.toPrecision(3);

function describeOptions(o: Record<string, unknown>): string {
  return Object.entries(o).filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : JSON.stringify(v)}`).join(' ');
}

// ---------------------------------------------------------------- linearCrossEntropy

export type LceFuzzOptions =
    Omit<LinearCrossEntropyOptions, 'bias'|'classWeights'|'returnLse'|'returnZLoss'|'returnPredictions'|'returnAccuracy'|
         'returnEntropy'>;

export interface LceFuzzExtras {
  returnZLoss: boolean;
  returnPredictions: boolean;
  returnAccuracy: boolean;
  returnEntropy: boolean;
}

export interface LceFuzzCase {
  seed: number; description: string;
  n: number; v: number; d: number;
  /** The reference problem, with the labels the kernels see (shifted when the case shifts). */
  ref: LceRefInput;
  fwd: LceRefForward;
  bias: Float32Array|null;
  classWeights: Float32Array|null;
  /** Hidden states [...leading, D], labels [...leading] (the op's input labels: `rawLabels`). */
  leading: number[];
  rawLabels: Int32Array;
  /** The per-token outputs' shape: `leading`, without the last position when shifting. */
  outShape: number[];
  options: LceFuzzOptions;
  returnLse: boolean;
  extras: LceFuzzExtras;
  /** Tokens whose top two logits are within float32 reach of a tie: their predictions are not compared. */
  nearTie: Uint8Array;
  /** Upstream weights of the per-token losses ('none', over outShape) and of the lse (returnLse, over N). */
  lossWeights: Float32Array; lseWeights: Float32Array;
}

export interface LceProfile {
  /** N·V·D ~10x smaller (software GPUs). */
  light: boolean;
  /** Every 40th case has a vocabulary of 60k-70k. */
  wide: boolean;
}

/** Shapes: mostly small, block edges, now and then N=0, and (`wide`) every 40th a vocabulary of 60k-70k. */
function lceShape(r: Draw, index: number, {light, wide}: LceProfile): {n: number, v: number, d: number, kind: string} {
  if (wide && index % 40 === 11) {
    return {n: r.int(1, light ? 2 : 4), v: r.int(60000, 70000), d: r.int(1, light ? 2 : 4), kind: 'wide vocabulary'};
  }
  const kind = r.pick(['tiny', 'tiny', 'small', 'small', 'small', 'medium', 'block edge', 'empty'] as const);
  if (kind === 'empty' && r.chance(0.5)) return {n: 0, v: r.int(1, 50), d: r.int(1, 9), kind};
  if (kind === 'tiny' || kind === 'empty') return {n: r.int(1, 9), v: r.int(1, 21), d: r.int(1, 9), kind: 'tiny'};
  if (kind === 'block edge') {
    const edge = r.pick([32, 64, 128, 256, 512, 1024, 2048, 4096]);
    return {n: r.awkward(1, 24), v: Math.max(1, edge + r.pick([-1, 1, 3])), d: r.awkward(1, 40), kind};
  }
  let n = kind === 'small' ? r.awkward(1, 70) : r.awkward(20, 260);
  let v = kind === 'small' ? r.awkward(2, 700) : r.awkward(300, 3000);
  const d = kind === 'small' ? r.awkward(1, 50) : r.awkward(8, 130);
  // Keep the float64 reference (3·N·V·D multiply-adds) cheap.
  while (n * v * d > (light ? 2.5e5 : 2.5e6)) {
    if (n > 8) n = Math.ceil(n / 2); else v = Math.ceil(v / 2);
  }
  return {n, v, d, kind};
}

/** Masked classes (bias −Inf): none, a padded tail, or scattered ones; at least one class stays unmasked. */
function drawMask(r: Draw, v: number): Uint8Array|null {
  if (v < 2 || !r.chance(0.25)) return null;
  const masked = new Uint8Array(v);
  if (r.chance(0.5)) {
    masked.fill(1, v - r.int(1, Math.max(1, Math.floor(v / 3))));
  } else {
    for (let j = 0; j < v; ++j) masked[j] = r.chance(0.3) ? 1 : 0;
  }
  masked[r.int(0, v - 1)] = 0;
  return masked;
}

/** [N] or, now and then, [B, T] / [B1, B2, T] with the product N. */
function drawLeading(r: Draw, n: number): number[] {
  if (n < 2 || !r.chance(0.35)) return [n];
  const divisors = Array.from({length: n}, (_, i) => i + 1).filter(b => n % b === 0 && b < n);
  const b = r.pick(divisors);
  const t = n / b;
  const inner = Array.from({length: b}, (_, i) => i + 1).filter(x => b % x === 0);
  const b2 = r.chance(0.3) ? r.pick(inner) : 1;
  return b2 > 1 ? [b / b2, b2, t] : [b, t];
}

function nearTies(fwd: LceRefForward, n: number, v: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n && v >= 2; ++i) {
    const row = fwd.logits.subarray(i * v, (i + 1) * v);
    let best = -Infinity, second = -Infinity;
    for (const z of row) {
      if (z > best) {
        second = best;
        best = z;
      } else if (z > second) {
        second = z;
      }
    }
    out[i] = best - second < 1e-4 * (1 + Math.abs(best)) ? 1 : 0;
  }
  return out;
}

export function makeLceCase(seed: number, index: number, profile: LceProfile = {light: false, wide: true}):
    LceFuzzCase {
  const r = new Draw(seed);
  const {light} = profile;
  const {n, v, d, kind} = lceShape(r, index, profile);
  const masked = drawMask(r, v);
  const withBias = masked != null || r.chance(0.5);
  const scale = r.pick([0.5, 1, 1, 2, 4, 8]);
  const ignoreIndex = r.pick([undefined, undefined, -1, Math.min(v - 1, r.int(0, 5))]);
  const ignoreFraction = r.pick([0, 0, 0.2, 0.5, 1]);
  const leading = drawLeading(r, n);
  const shift = leading.length >= 2 && leading[leading.length - 1] >= 2 && r.chance(0.4);
  const options: LceFuzzOptions = {
    ignoreIndex,
    reduction: r.pick([undefined, 'mean', 'sum', 'none'] as const),
    softcap: r.chance(0.4) ? r.pick([0.5, 1, 2.5, 6, 15, 30]) * (0.8 + 0.4 * r.rand()) : undefined,
    labelSmoothing: r.chance(0.4) ? (r.chance(0.15) ? 1 : r.rand()) : undefined,
    zLoss: r.chance(0.35) ? Math.pow(10, -4 + 3 * r.rand()) : undefined,
    maxSup: r.chance(0.4) ? 0.5 * r.rand() : undefined,
    // Blocks skipped by the filter contribute < eps each: keep eps far below the tolerance.
    gradFilterEps: r.pick([undefined, undefined, 'auto', null, 1e-9] as const),
    vocabChunk: r.chance(0.3) ? Math.max(Math.ceil(v / 48), r.int(1, v + 10)) : undefined,
    classifierLayout: r.chance(0.3) ? 'dv' : undefined,
    shift: shift ? true : undefined,
  };
  const returnLse = r.chance(0.3);
  const extras: LceFuzzExtras = {
    returnZLoss: r.chance(0.2), returnPredictions: r.chance(0.2), returnAccuracy: r.chance(0.2),
    returnEntropy: r.chance(0.2),
  };
  const ignore = ignoreIndex ?? -100;
  const embeddings = uniformArray(r.rand, n * d).map(x => x * scale);
  const classifierVD = uniformArray(r.rand, v * d);
  const unmasked = Array.from({length: v}, (_, j) => j).filter(j => !masked?.[j]);
  const rawLabels = new Int32Array(n);
  for (let i = 0; i < n; ++i) rawLabels[i] = r.chance(ignoreFraction) ? ignore : r.pick(unmasked);
  let bias = withBias ? uniformArray(r.rand, v, -2, 2) : null;
  if (bias && masked) bias = bias.map((x, j) => masked[j] ? -Infinity : x);
  const classWeights = r.chance(0.3) ? uniformArray(r.rand, v, 0, 2) : null;
  const t = leading[leading.length - 1];
  const outShape = shift ? [...leading.slice(0, -1), t - 1] : leading;
  const outSize = outShape.reduce((a, b) => a * b, 1);
  const lossWeights = uniformArray(r.rand, outSize, 0.5, 1.5), lseWeights = uniformArray(r.rand, n, -0.5, 0.5);
  const dv = options.classifierLayout === 'dv';
  const classifier = dv ? Float32Array.from({length: v * d}, (_, q) => classifierVD[(q % v) * d + Math.floor(q / v)]) :
                          classifierVD;
  const ref: LceRefInput = {
    n, d, v, embeddings, classifier, classifierLayout: dv ? 'dv' : 'vd',
    labels: shift ? lceReferenceShiftLabels(rawLabels, n / t, t, ignore) : rawLabels,
    bias: bias ?? undefined, classWeights: classWeights ?? undefined, ignoreIndex,
    softcap: options.softcap, labelSmoothing: options.labelSmoothing, zLoss: options.zLoss, maxSup: options.maxSup,
  };
  let fwd = lceReferenceForward(ref);
  const ties = nearTies(fwd, n, v);
  // MaxSup's gradient follows the argmax: a float32 near-tie may pick the other
  // index, so such tokens are ignored (their lse is still checked).
  let tiesIgnored = 0;
  if ((options.maxSup ?? 0) > 0) {
    const labels = ref.labels as Int32Array;
    for (let i = 0; i < n; ++i) {
      if (labels[i] === ignore || !ties[i]) continue;
      labels[i] = ignore;
      rawLabels[shift ? i + 1 : i] = ignore;  // token i predicts raw label i + 1 when shifting (same row)
      ++tiesIgnored;
    }
    if (tiesIgnored > 0) fwd = lceReferenceForward(ref);
  }
  const flags = Object.entries(extras).filter(([, on]) => on).map(([k]) => k).join(' ');
  const description = `linearCrossEntropy seed=${seed}${light ? ' light' : ''} [${kind}] N=${n} V=${v} D=${d} ` +
      `leading=[${leading}] ${describeOptions({...options})}${withBias ? ' bias' : ''}` +
      `${masked ? ` masked=${v - unmasked.length}` : ''}${classWeights ? ' classWeights' : ''}` +
      `${returnLse ? ' returnLse' : ''}${flags ? ` ${flags}` : ''} ` +
      `scale=${scale} ignored=${(ref.labels as Int32Array).filter(y => y === ignore).length}/${n}` +
      (tiesIgnored ? ` (${tiesIgnored} argmax near-ties ignored)` : '');
  return {seed, description, n, v, d, ref, fwd, bias, classWeights, leading, rawLabels, outShape, options, returnLse,
          extras, nearTie: ties, lossWeights, lseWeights};
}

// ---------------------------------------------------------------- topOneSuppression

export interface TopOneFuzzCase {
  seed: number; description: string;
  n: number; v: number;
  alpha: number|undefined;
  logits: Float32Array;
  weights: Float32Array;
}

export function makeTopOneCase(seed: number, index: number): TopOneFuzzCase {
  const r = new Draw(seed);
  let n: number, v: number;
  if (index % 40 === 17) {
    n = r.int(1, 3);
    v = r.int(60000, 70000);
  } else {
    n = r.chance(0.04) ? 0 : r.logInt(1, 300);
    v = r.chance(0.05) ? 1 : r.awkward(1, r.pick([20, 600, 5000]));
    while (n * v > 3e5) n = Math.ceil(n / 2);
  }
  const pattern = r.pick(['uniform', 'uniform', 'ties (small integers)', 'large', 'constant rows'] as const);
  const alpha = r.chance(0.2) ? undefined : r.pick([0, 0.1, 1, 3.7]) * (r.chance(0.5) ? 1 : r.rand());
  let logits: Float32Array;
  if (pattern === 'ties (small integers)') {
    logits = Float32Array.from({length: n * v}, () => r.int(-3, 3));
  } else if (pattern === 'constant rows') {
    logits = new Float32Array(n * v);
    for (let i = 0; i < n; ++i) logits.fill(uniformArray(r.rand, 1, -5, 5)[0], i * v, (i + 1) * v);
  } else {
    logits = uniformArray(r.rand, n * v, pattern === 'large' ? -300 : -4, pattern === 'large' ? 300 : 4);
  }
  const weights = uniformArray(r.rand, n, -1.5, 1.5);
  const description = `topOneSuppression seed=${seed} N=${n} V=${v} alpha=${alpha === undefined ? 'default' :
                                                                           fmt(alpha)} logits=${pattern}`;
  return {seed, description, n, v, alpha, logits, weights};
}

// ---------------------------------------------------------------- routeTopK

export interface RouteFuzzCase {
  seed: number; description: string;
  n: number; e: number; k: number;
  scoring: 'softmax'|'sigmoid'|undefined;
  normalize: boolean|undefined;
  logits: Float32Array;
  bias: Float32Array|null;
  weights: Float32Array;  // upstream gradient of the gates
  expected: {indices: Int32Array, gates: Float64Array};
  dLogits: Float64Array;
}

/** d(Σ w·gates)/dlogits in float64, the selection held fixed. */
export function routeTopKGradReference(logits: ArrayLike<number>, n: number, e: number, k: number,
                                       scoring: 'softmax'|'sigmoid', normalize: boolean, indices: Int32Array,
                                       w: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n * e);
  for (let t = 0; t < n; ++t) {
    const z = Array.from({length: e}, (_, j) => logits[t * e + j]);
    const s = routerScoresReference(z, scoring);
    const chosen = Array.from({length: k}, (_, slot) => indices[t * k + slot]);
    const ds = new Array<number>(e).fill(0);
    if (normalize) {
      const total = chosen.reduce((a, j) => a + s[j], 0);
      const wg = chosen.reduce((a, j, slot) => a + w[t * k + slot] * s[j] / total, 0);
      chosen.forEach((j, slot) => ds[j] += (w[t * k + slot] - wg) / total);
    } else {
      chosen.forEach((j, slot) => ds[j] += w[t * k + slot]);
    }
    if (scoring === 'sigmoid') {
      for (let j = 0; j < e; ++j) out[t * e + j] = ds[j] * s[j] * (1 - s[j]);
    } else {
      const dot = s.reduce((a, sj, j) => a + sj * ds[j], 0);
      for (let j = 0; j < e; ++j) out[t * e + j] = s[j] * (ds[j] - dot);
    }
  }
  return out;
}

/** Smallest non-zero gap between neighbours in the biased order, over the first k+1 of each token. */
function selectionMargin(logits: Float32Array, n: number, e: number, k: number, scoring: 'softmax'|'sigmoid',
                         bias: Float32Array|null): number {
  let margin = Infinity;
  for (let t = 0; t < n; ++t) {
    const z = Array.from(logits.subarray(t * e, (t + 1) * e));
    const s = routerScoresReference(z, scoring);
    const sorted = s.map((x, j) => x + (bias ? bias[j] : 0)).sort((a, b) => b - a);
    for (let i = 0; i < Math.min(k, e - 1); ++i) {
      const gap = sorted[i] - sorted[i + 1];
      if (gap > 0) margin = Math.min(margin, gap);
    }
  }
  return margin;
}

export function makeRouteCase(seed: number, index: number): RouteFuzzCase {
  const r = new Draw(seed);
  const n = r.chance(0.04) ? 0 : r.logInt(1, 200);
  const e = r.chance(0.1) ? 1 : r.awkward(1, r.pick([8, 16, 64]));
  const k = r.chance(0.25) ? e : r.int(1, e);
  const scoring = r.pick([undefined, 'softmax', 'sigmoid'] as const);
  const normalize = r.pick([undefined, true, false] as const);
  const withBias = r.chance(0.4);
  const ties = r.chance(0.2);
  const norm = normalize ?? k > 1;
  // Redraw the data (same stream, so still a function of the seed) while a
  // float32 rounding could reorder two experts: the order itself is checked.
  let logits: Float32Array = new Float32Array(0), bias: Float32Array|null = null, redraws = 0;
  for (;; ++redraws) {
    logits = ties ? Float32Array.from({length: n * e}, () => r.int(-2, 2) / 2) : uniformArray(r.rand, n * e, -4, 4);
    if (withBias) {
      bias = ties ? Float32Array.from({length: e}, () => r.int(-1, 1) / 4) : uniformArray(r.rand, e, -0.3, 0.3);
    }
    if (redraws >= 30 || selectionMargin(logits, n, e, k, scoring ?? 'softmax', bias) > 2e-5) break;
  }
  const weights = uniformArray(r.rand, n * k, -1, 1);
  const expected = routeTopKReference(logits, n, e, k, scoring ?? 'softmax', bias, norm);
  const dLogits = routeTopKGradReference(logits, n, e, k, scoring ?? 'softmax', norm, expected.indices, weights);
  const description = `routeTopK seed=${seed} N=${n} E=${e} k=${k} ${describeOptions({scoring, normalize})}` +
      `${bias ? ' bias' : ''}${ties ? ' logits=ties' : ''}` +
      `${redraws ? ` (redrawn ${redraws}× for a clear order)` : ''}`;
  return {seed, description, n, e, k, scoring, normalize, logits, bias, weights, expected, dLogits};
}

// ---------------------------------------------------------------- expertDispatch

export interface DispatchFuzzCase {
  seed: number; description: string;
  n: number; d: number; e: number; k: number;
  capacity: number;  // -1: dropless
  dropPolicy: 'position'|'slotMajor'|'score';
  indices: Int32Array;
  gates: Float32Array;     // [N, k] for dropPolicy 'score'
  x: Float32Array;
  upstream: Float32Array;  // [M, D] weights of Σ dispatched ⊙ R (at least 1 element)
  order: number[];         // sourceRows: -1 in the empty slots of the static layout
  counts: number[];
  offsets: number[];
  dropped: number;
  dx: Float64Array;
}

export function makeDispatchCase(seed: number, _index: number): DispatchFuzzCase {
  const r = new Draw(seed);
  const n = r.chance(0.04) ? 0 : r.logInt(1, 160);
  const d = r.awkward(1, r.pick([4, 40, 70]));
  const e = r.chance(0.1) ? 1 : r.awkward(1, r.pick([6, 16, 40]));
  const k = r.chance(0.2) ? e : r.int(1, Math.min(e, 6));
  const pattern = r.pick(['distinct', 'distinct', 'skewed', 'some experts empty', 'repeats'] as const);
  const all = Array.from({length: e}, (_, j) => j);
  const pool = pattern === 'some experts empty' && e > 2 ? all.filter(() => r.chance(0.5)) : all.slice();
  if (pool.length < k) {
    for (let j = 0; j < e && pool.length < k; ++j) if (!pool.includes(j)) pool.push(j);
    pool.sort((a, b) => a - b);
  }
  const indices = new Int32Array(n * k);
  for (let t = 0; t < n; ++t) {
    const choice = pool.slice();
    for (let s = 0; s < k; ++s) {
      if (pattern === 'repeats') {
        indices[t * k + s] = r.int(0, e - 1);
      } else {
        // 'skewed' favours the low experts: the square of a uniform.
        const at = Math.floor((pattern === 'skewed' ? r.rand() ** 2 : r.rand()) * choice.length);
        indices[t * k + s] = choice.splice(at, 1)[0];
      }
    }
  }
  const perExpert = Math.ceil(n * k / e);
  const capacity = r.chance(0.45) ? -1 : r.pick([0, 1, r.int(0, perExpert), r.int(perExpert, 2 * perExpert + 1)]);
  const dropPolicy = r.pick(['position', 'slotMajor', 'score'] as const);
  // Gates with ties (a coarse grid), so 'score' also exercises its tie rule.
  const gates = Float32Array.from({length: n * k}, () => Math.round(r.rand() * 8) / 8);
  const x = uniformArray(r.rand, n * d);
  // A capacity of N·k or more can drop nothing: the op runs it as dropless (ragged).
  const staticCapacity = capacity >= n * k ? -1 : capacity;
  const ref = dispatchReference(indices, e, staticCapacity, k, dropPolicy, gates);
  const order = staticCapacity < 0 ? ref.rowsOfExpert.flat() : staticSourceRows(ref.rowsOfExpert, staticCapacity);
  const offsets = [0];
  ref.rowsOfExpert.forEach(rows => offsets.push(offsets[offsets.length - 1] + (staticCapacity < 0 ? rows.length :
                                                                                                 staticCapacity)));
  const upstream = uniformArray(r.rand, Math.max(1, order.length * d));
  const dx = new Float64Array(n * d);
  order.forEach((p, row) => {
    if (p < 0) return;
    const t = Math.floor(p / k);
    for (let q = 0; q < d; ++q) dx[t * d + q] += upstream[row * d + q];
  });
  const description = `expertDispatch seed=${seed} N=${n} D=${d} E=${e} k=${k} ` +
      `capacity=${capacity < 0 ? 'none' : capacity}${staticCapacity !== capacity ? ' (>= N·k: dropless)' : ''} ` +
      `dropPolicy=${dropPolicy} indices=${pattern} M=${order.length} dropped=${ref.dropped}`;
  return {seed, description, n, d, e, k, capacity, dropPolicy, indices, gates, x, upstream, order, offsets,
          dropped: ref.dropped, counts: ref.counts, dx};
}

// ---------------------------------------------------------------- groupedMatMul

export interface GroupedMatMulFuzzCase {
  seed: number; description: string;
  m: number; d: number; h: number; e: number;
  sizes: number[]; offsets: number[];
  x: Float32Array; w: Float32Array; upstream: Float32Array;
  y: Float64Array; dx: Float64Array; dw: Float64Array;
}

/** `light` (software GPUs): D, H <= 40 and <= 20 rows per expert. */
export function makeGroupedMatMulCase(seed: number, _index: number, light = false): GroupedMatMulFuzzCase {
  const r = new Draw(seed);
  const e = r.chance(0.1) ? 1 : r.awkward(1, r.pick([5, 12, 33]));
  const d = r.awkward(1, r.pick(light ? [8, 17, 40] : [8, 40, 97]));
  const h = r.awkward(1, r.pick(light ? [8, 17, 40] : [8, 40, 97]));
  const maxRows = r.pick(light ? [3, 9, 20] : [3, 20, 70]);
  const empty = r.chance(0.3) ? r.rand() : 0.1;
  const sizes = Array.from({length: e}, () => r.chance(empty) ? 0 : r.int(1, maxRows));
  if (r.chance(0.04)) sizes.fill(0);
  const m = sizes.reduce((a, b) => a + b, 0);
  const offsets = [0];
  sizes.forEach(s => offsets.push(offsets[offsets.length - 1] + s));
  const x = uniformArray(r.rand, m * d), w = uniformArray(r.rand, e * d * h), upstream = uniformArray(r.rand, m * h);
  const y = groupedMatMulReference(x, w, sizes, d, h);
  const dx = new Float64Array(m * d), dw = new Float64Array(e * d * h);
  let row = 0;
  sizes.forEach((rows, ex) => {
    for (let i = 0; i < rows; ++i, ++row) {
      for (let q = 0; q < d; ++q) {
        for (let j = 0; j < h; ++j) {
          dx[row * d + q] += upstream[row * h + j] * w[ex * d * h + q * h + j];
          dw[ex * d * h + q * h + j] += x[row * d + q] * upstream[row * h + j];
        }
      }
    }
  });
  const description = `groupedMatMul seed=${seed}${light ? ' light' : ''} M=${m} D=${d} H=${h} E=${e} ` +
      `sizes=[${sizes.join(',')}]`;
  return {seed, description, m, d, h, e, sizes, offsets, x, w, upstream, y, dx, dw};
}

// ---------------------------------------------------------------- expertCombine

export interface CombineFuzzCase {
  seed: number; description: string;
  n: number; k: number; h: number; m: number;
  rows: Int32Array; y: Float32Array; gates: Float32Array; upstream: Float32Array;
  out: Float64Array; dY: Float64Array; dGates: Float64Array;
}

export function makeCombineCase(seed: number, _index: number): CombineFuzzCase {
  const r = new Draw(seed);
  const n = r.chance(0.04) ? 0 : r.logInt(1, 160);
  const k = r.int(1, 5);
  const h = r.awkward(1, r.pick([6, 40, 90]));
  const keep = r.pick([1, 1, 0.8, 0.3, 0]);
  const order = r.pick(['expert-grouped', 'shuffled', 'pair order'] as const);
  // Kept pairs, each once; dropped pairs have no row (their gate gets 0 gradient).
  let pairs = Array.from({length: n * k}, (_, p) => p).filter(() => keep === 1 || r.chance(keep));
  if (order === 'shuffled') {
    for (let i = pairs.length - 1; i > 0; --i) {
      const j = r.int(0, i);
      [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
    }
  } else if (order === 'expert-grouped') {
    const expert = pairs.map(() => r.int(0, 7));
    pairs = pairs.map((p, i) => [expert[i], p]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(q => q[1]);
  }
  // The static capacity layout's empty slots: rows -1 that add nothing.
  const empties = r.chance(0.3) ? r.int(1, 6) : 0;
  for (let i = 0; i < empties; ++i) pairs.splice(r.int(0, pairs.length), 0, -1);
  const rows = Int32Array.from(pairs);
  const m = rows.length;
  const y = uniformArray(r.rand, m * h), gates = uniformArray(r.rand, n * k, 0, 1);
  const upstream = uniformArray(r.rand, n * h);
  const ref = expertCombineReference(y, rows, gates, n, k, h, upstream);
  const description = `expertCombine seed=${seed} N=${n} k=${k} H=${h} M=${m} rows=${order} kept=${fmt(keep)} emptySlots=${empties}`;
  return {seed, description, n, k, h, m, rows, y, gates, upstream, out: ref.out, dY: ref.dY, dGates: ref.dGates};
}
