/**
 * Fuzzing (issue 9): seeded random shapes, options and data for every op,
 * values and gradients (tf.grads) against the float64 references, through
 * the registered kernel and again through the forced composite (see
 * kernel_and_composite.ts). Cases come from fuzz_cases.ts, each a pure
 * function of its seed; a failing case names its seed and description.
 *
 * Cases per path by default: 500 on cpu in Node, 200 on tensorflow, 40 on
 * GPU backends (with smaller linearCrossEntropy shapes) and 60 on cpu in the
 * browser. In Node, environment variables change that:
 *   SLUICE_FUZZ_CASES=<n>          cases per path (split over the ops by FUZZ_WEIGHTS)
 *   SLUICE_FUZZ_SEED=<n>|random    base seed (default 9, so CI is reproducible)
 *   SLUICE_FUZZ_REPLAY=<op>:<seed>:<index>  run that one case only (a failure prints it)
 *   SLUICE_FUZZ_VERBOSE=1          print every case with its time
 *   SLUICE_FUZZ_WIDE=1             V of 60k-70k on GPU backends too (every 40th linearCrossEntropy case)
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {useRegisteredKernel} from '../internal';
import {SluiceExpertCombine, SluiceExpertDispatch, SluiceGroupedMatMul, SluiceLinearCrossEntropy,
        SluiceTopOneSuppression} from '../kernel_names';
import {expertCombine} from '../ops/expert_combine';
import {expertDispatch} from '../ops/expert_dispatch';
import {groupedMatMul} from '../ops/grouped_mat_mul';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import {routeTopK} from '../ops/route_top_k';
import {sumAll} from '../internal';
import {topOneSuppression} from '../ops/top_one_suppression';
import {lceReferenceBackward, lceReferenceDropLast, lceReferenceReduce,
        lceReferenceReductionGradient} from '../reference/linear_cross_entropy_ref';
import {topOneSuppressionReferenceBackward,
        topOneSuppressionReferenceForward} from '../reference/top_one_suppression_ref';

import {backendTolerance} from './expect_close';
import {caseSeed, FUZZ_OPS, FUZZ_WEIGHTS, FuzzOp, makeCombineCase, makeDispatchCase, makeGroupedMatMulCase,
        makeLceCase, makeRouteCase, makeTopOneCase} from './fuzz_cases';
import {describeKernelAndComposite} from './kernel_and_composite';

const DEFAULT_BASE_SEED = 9;
const BATCH = 25;

function envVar(name: string): string|undefined {
  const p = (globalThis as unknown as {process?: {env?: Record<string, string|undefined>}}).process;
  return p?.env?.[name] || undefined;
}

function isBrowser(): boolean {
  return typeof (globalThis as unknown as {window?: unknown}).window !== 'undefined';
}

/** Cases per path (kernel or composite) on a backend, before the split over the ops. */
function defaultCaseCount(backendName: string): number {
  if (backendName === 'cpu') return isBrowser() ? 60 : 500;
  if (backendName === 'tensorflow') return 200;
  return 40;
}

/**
 * Smaller shapes on GPU backends, where SwiftShader compiles and runs them
 * slowly; there the 60k-70k vocabulary cases only run when asked for
 * (SLUICE_FUZZ_WIDE=1): one such gradient takes 10-45 s on SwiftShader.
 */
function lightShapes(): boolean {
  const backendName = tf.getBackend();
  return backendName !== 'cpu' && backendName !== 'tensorflow';
}

function lceProfile(): {light: boolean, wide: boolean} {
  const light = lightShapes();
  return {light, wide: !light || envVar('SLUICE_FUZZ_WIDE') != null};
}

interface FuzzConfig {
  baseSeed: number;
  perOp: Record<FuzzOp, number>;
  replay: {op: FuzzOp, seed: number, index: number}|null;
  verbose: boolean;
}

function fuzzConfig(backendName: string): FuzzConfig {
  const seedVar = envVar('SLUICE_FUZZ_SEED');
  const baseSeed = seedVar === 'random' ? (Date.now() % 1e9) : seedVar != null ? Number(seedVar) : DEFAULT_BASE_SEED;
  const total = Number(envVar('SLUICE_FUZZ_CASES') ?? defaultCaseCount(backendName));
  const perOp = {} as Record<FuzzOp, number>;
  for (const op of FUZZ_OPS) perOp[op] = Math.max(1, Math.ceil(total * FUZZ_WEIGHTS[op] - 1e-9));
  let replay: FuzzConfig['replay'] = null;
  const replayVar = envVar('SLUICE_FUZZ_REPLAY');
  if (replayVar != null) {
    const [op, seed, index] = replayVar.split(':');
    if (!(FUZZ_OPS as readonly string[]).includes(op) || !(Number(seed) >= 0) || !(Number(index ?? 0) >= 0)) {
      throw new Error(`SLUICE_FUZZ_REPLAY must be <op>:<seed>:<index> with op one of ${FUZZ_OPS.join(', ')}, ` +
                      `got ${replayVar}`);
    }
    replay = {op: op as FuzzOp, seed: Number(seed), index: Number(index ?? 0)};
  }
  return {baseSeed, perOp, replay, verbose: envVar('SLUICE_FUZZ_VERBOSE') != null};
}

/** Collects a case's mismatches instead of stopping at the first, so one report names them all. */
class CaseCheck {
  readonly problems: string[] = [];
  description = '';

  close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string) {
    if (actual.length !== expected.length) {
      this.problems.push(`${what}: length ${actual.length}, expected ${expected.length}`);
      return;
    }
    let scale = 1;
    for (let i = 0; i < expected.length; ++i) scale = Math.max(scale, Math.abs(expected[i]));
    let worst = 0, at = -1;
    for (let i = 0; i < expected.length; ++i) {
      const err = Math.abs(actual[i] - expected[i]);
      if (!(err <= worst)) {  // also catches NaN
        worst = err;
        at = i;
      }
    }
    if (!(Number.isFinite(worst) && worst <= tol * scale)) {
      this.problems.push(`${what}: max error ${worst} at [${at}] (actual ${actual[at]}, expected ${expected[at]}) ` +
                         `exceeds ${tol} × scale ${scale}`);
    }
  }

  equal(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
    const n = Math.max(actual.length, expected.length);
    for (let i = 0; i < n; ++i) {
      if (actual[i] !== expected[i]) {
        const show = (a: ArrayLike<number>) => `[${Array.from(a).slice(Math.max(0, i - 3), i + 4).join(',')}]`;
        this.problems.push(`${what}: differs first at [${i}] (length ${actual.length} vs ${expected.length}): ` +
                           `got …${show(actual)}…, expected …${show(expected)}… around it`);
        return;
      }
    }
  }

  shape(actual: number[], expected: number[], what: string) {
    if (actual.join(',') !== expected.join(',')) {
      this.problems.push(`${what}: shape [${actual}], expected [${expected}]`);
    }
  }
}

type CaseRunner = (seed: number, index: number, tol: number, check: CaseCheck) => Promise<string>;

const data = async (t: tf.Tensor) => await t.data() as Float32Array|Int32Array;

// ---------------------------------------------------------------- per-op runners

const runLce: CaseRunner = async (seed, index, tol, check) => {
  const c = makeLceCase(seed, index, lceProfile());
  check.description = c.description;
  const {n, v, d, ref, fwd, outShape} = c;
  const e = tf.tensor(ref.embeddings as Float32Array, [...c.leading, d]);
  const cl = tf.tensor2d(ref.classifier as Float32Array, ref.classifierLayout === 'dv' ? [d, v] : [v, d]);
  const y = tf.tensor(c.rawLabels, c.leading, 'int32');
  const b = c.bias ? tf.tensor1d(c.bias) : null;
  const cw = c.classWeights ? tf.tensor1d(c.classWeights) : null;
  // lse comes back in the output shape too: its upstream weights are the first ones of lseWeights.
  const lseWeights = c.lseWeights.subarray(0, c.lossWeights.length);
  const w = tf.tensor(c.lossWeights, outShape), u = tf.tensor(lseWeights, outShape);
  const reduction = (c.options.reduction ?? 'mean') as 'mean'|'sum'|'none';
  const ignore = c.options.ignoreIndex ?? -100;
  const t = c.leading[c.leading.length - 1];
  // Per-token reference values in the output shape (the last position of each row dropped when shifting).
  const perToken = (x: ArrayLike<number>) => c.options.shift ? lceReferenceDropLast(x, n / t, t) : x;
  const base = {...c.options, ...(cw ? {classWeights: cw} : {})};
  try {
    // Forward: the loss as the case reduces it, every token's lse, and the extras the case asks for.
    const out = linearCrossEntropy(e, cl, y, {...base, ...(b ? {bias: b} : {}), ...c.extras, returnLse: true});
    check.shape(out.loss.shape, reduction === 'none' ? outShape : [], 'loss');
    const reduce = (x: ArrayLike<number>) => reduction === 'none' ? perToken(x) : [lceReferenceReduce(ref, x, reduction)];
    check.close(await data(out.loss), reduce(fwd.losses), tol, `${reduction} loss`);
    check.shape(out.lse.shape, outShape, 'lse');
    check.close(await data(out.lse), perToken(fwd.lse), tol, 'lse');
    const kept = Array.from(ref.labels, l => l !== ignore);
    if (c.extras.returnZLoss) check.close(await data(out.zLoss!), reduce(fwd.zLossTerms), tol, 'zLoss');
    if (c.extras.returnEntropy) check.close(await data(out.entropy!), perToken(fwd.entropy), tol, 'entropy');
    if (c.extras.returnPredictions) {
      const got = await data(out.predictions!);
      const want = perToken(fwd.argmax), tie = perToken(c.nearTie);
      check.close(Array.from(got, (p, i) => tie[i] ? want[i] : p), want, 0, 'predictions (near-ties left out)');
    }
    if (c.extras.returnAccuracy) {
      const correct: number[] = Array.from(ref.labels, (l, i) => kept[i] && fwd.argmax[i] === l ? 1 : 0);
      const got = await data(out.accuracy!);
      const ties = Array.from(c.nearTie).reduce((a, x, i) => a + (kept[i] ? x : 0), 0);
      if (reduction === 'none') {
        const tie = perToken(c.nearTie), want = perToken(correct);
        check.close(Array.from(got, (a, i) => tie[i] ? want[i] : a), want, 0, 'accuracy (near-ties left out)');
      } else {
        const count = kept.filter(k => k).length;
        const total = correct.reduce((a, x) => a + x, 0);
        const want = reduction === 'sum' ? total : count === 0 ? 0 : total / count;
        const slack = (reduction === 'sum' ? ties : ties / Math.max(count, 1)) + 1e-6;
        if (!(Math.abs(got[0] - want) <= slack)) check.close(got, [want], 0, `${reduction} accuracy (±${ties} near-ties)`);
      }
    }
    tf.dispose(out as unknown as tf.TensorContainer);

    // Gradients of (Σ w·losses | loss) (+ Σ u·lse with returnLse).
    const f = (...xs: tf.Tensor[]) => {
      const options = {...base, ...(b ? {bias: xs[2]} : {})};
      let loss: tf.Tensor, lse: tf.Tensor|null = null;
      if (c.returnLse) {
        const r = linearCrossEntropy(xs[0], xs[1], y, {...options, returnLse: true});
        loss = r.loss;
        lse = r.lse;
      } else {
        loss = linearCrossEntropy(xs[0], xs[1], y, options) as tf.Tensor;
      }
      let total = reduction === 'none' ? sumAll(tf.mul(loss, w)) : loss;
      if (lse) total = tf.add(total, sumAll(tf.mul(lse, u)));
      return total as tf.Scalar;
    };
    const grads = tf.grads(f)(b ? [e, cl, b] : [e, cl]);
    const spread = (x: ArrayLike<number>) => {
      // Output-shaped upstream weights back over the N tokens (0 at positions a shift drops).
      if (!c.options.shift) return Float64Array.from(x);
      const full = new Float64Array(n);
      for (let row = 0; row < n / t; ++row) {
        for (let s = 0; s + 1 < t; ++s) full[row * t + s] = x[row * (t - 1) + s];
      }
      return full;
    };
    const dLosses = reduction === 'none' ? spread(c.lossWeights) : lceReferenceReductionGradient(ref, reduction);
    const expected = lceReferenceBackward(ref, fwd, dLosses, c.returnLse ? spread(lseWeights) : undefined);
    check.close(await data(grads[0]), expected.dEmbeddings, tol, 'dEmbeddings');
    check.close(await data(grads[1]), expected.dClassifier, tol, 'dClassifier');
    if (b) check.close(await data(grads[2]), expected.dBias, tol, 'dBias');
    tf.dispose(grads);
  } finally {
    tf.dispose([e, cl, y, w, u, ...(b ? [b] : []), ...(cw ? [cw] : [])]);
  }
  return c.description;
};

const runTopOne: CaseRunner = async (seed, index, tol, check) => {
  const c = makeTopOneCase(seed, index);
  check.description = c.description;
  const alpha = c.alpha ?? 1;
  const fwd = topOneSuppressionReferenceForward(c.logits, c.n, c.v, alpha);
  const z = tf.tensor2d(c.logits, [c.n, c.v]), w = tf.tensor1d(c.weights);
  try {
    const penalty = c.alpha === undefined ? topOneSuppression(z) : topOneSuppression(z, c.alpha);
    check.shape(penalty.shape, [c.n], 'penalty');
    check.close(await data(penalty), fwd.penalty, tol, 'penalty');
    penalty.dispose();
    const g = tf.grad((x: tf.Tensor) =>
                          sumAll(tf.mul(c.alpha === undefined ? topOneSuppression(x as tf.Tensor2D) :
                                                                topOneSuppression(x as tf.Tensor2D, c.alpha),
                                        w)) as tf.Scalar)(z);
    check.close(await data(g), topOneSuppressionReferenceBackward(fwd, c.v, alpha, c.weights), tol,
                'dLogits (alpha·(onehot(first argmax) − 1/V)·w)');
    g.dispose();
  } finally {
    tf.dispose([z, w]);
  }
  return c.description;
};

const runRoute: CaseRunner = async (seed, index, tol, check) => {
  const c = makeRouteCase(seed, index);
  check.description = c.description;
  const z = tf.tensor2d(c.logits, [c.n, c.e]), w = tf.tensor2d(c.weights, [c.n, c.k]);
  const b = c.bias ? tf.tensor1d(c.bias) : undefined;
  const options = {scoring: c.scoring, bias: b, normalize: c.normalize};
  try {
    const {expertIndices, gates} = routeTopK(z, c.k, options);
    check.shape(expertIndices.shape, [c.n, c.k], 'expertIndices');
    check.equal(await data(expertIndices), c.expected.indices, 'expertIndices');
    check.close(await data(gates), c.expected.gates, tol, 'gates');
    tf.dispose([expertIndices, gates]);
    const g = tf.grad((x: tf.Tensor) => sumAll(tf.mul(routeTopK(x as tf.Tensor2D, c.k, options).gates, w)) as
                          tf.Scalar)(z);
    check.close(await data(g), c.dLogits, tol, 'dLogits of Σ w·gates');
    g.dispose();
  } finally {
    tf.dispose([z, w, ...(b ? [b] : [])]);
  }
  return c.description;
};

const runDispatch: CaseRunner = async (seed, index, tol, check) => {
  const c = makeDispatchCase(seed, index);
  check.description = c.description;
  const x = tf.tensor2d(c.x, [c.n, c.d]), idx = tf.tensor2d(c.indices, [c.n, c.k], 'int32');
  const g = tf.tensor2d(c.gates, [c.n, c.k]);
  const m = c.order.length;
  const upstream = tf.tensor2d(c.upstream.subarray(0, m * c.d), [m, c.d]);
  const options = c.capacity >= 0 ?
      {capacity: c.capacity, dropPolicy: c.dropPolicy, ...(c.dropPolicy === 'score' ? {gates: g} : {})} : {};
  try {
    const out = expertDispatch(x, idx, c.e, options);
    check.shape(out.dispatched.shape, [m, c.d], 'dispatched');
    check.equal(await data(out.sourceRows), c.order, 'sourceRows');
    check.equal(await data(out.expertOffsets), c.offsets, 'expertOffsets');
    check.equal(await data(out.droppedCount), [c.dropped], 'droppedCount');
    check.equal(await data(out.expertCounts), c.counts, 'expertCounts');
    const rows = new Float64Array(m * c.d);
    c.order.forEach((p, r) => {
      if (p < 0) return;  // an empty slot: zeros
      const t = Math.floor(p / c.k);
      for (let q = 0; q < c.d; ++q) rows[r * c.d + q] = c.x[t * c.d + q];
    });
    check.close(await data(out.dispatched), rows, 0, 'dispatched rows (exact copies, zeros in empty slots)');
    tf.dispose([out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount, out.expertCounts]);
    const dx = tf.grad((xx: tf.Tensor) =>
                           sumAll(tf.mul(expertDispatch(xx as tf.Tensor2D, idx, c.e, options).dispatched,
                                         upstream)) as tf.Scalar)(x);
    check.close(await data(dx), c.dx, tol, 'dx');
    dx.dispose();
  } finally {
    tf.dispose([x, idx, g, upstream]);
  }
  return c.description;
};

const runGroupedMatMul: CaseRunner = async (seed, index, tol, check) => {
  const c = makeGroupedMatMulCase(seed, index, lightShapes());
  check.description = c.description;
  const x = tf.tensor2d(c.x, [c.m, c.d]), w = tf.tensor3d(c.w, [c.e, c.d, c.h]);
  const off = tf.tensor1d(c.offsets, 'int32'), up = tf.tensor2d(c.upstream, [c.m, c.h]);
  try {
    const y = groupedMatMul(x, w, off);
    check.shape(y.shape, [c.m, c.h], 'y');
    check.close(await data(y), c.y, tol, 'y');
    y.dispose();
    const [dx, dw] = tf.grads((a: tf.Tensor, bb: tf.Tensor) =>
                                  sumAll(tf.mul(groupedMatMul(a as tf.Tensor2D, bb as tf.Tensor3D, off), up)) as
                                  tf.Scalar)([x, w]);
    check.close(await data(dx), c.dx, tol, 'dx');
    check.close(await data(dw), c.dw, tol, 'dW');
    tf.dispose([dx, dw]);
  } finally {
    tf.dispose([x, w, off, up]);
  }
  return c.description;
};

const runCombine: CaseRunner = async (seed, index, tol, check) => {
  const c = makeCombineCase(seed, index);
  check.description = c.description;
  const y = tf.tensor2d(c.y, [c.m, c.h]), rows = tf.tensor1d(c.rows, 'int32');
  const g = tf.tensor2d(c.gates, [c.n, c.k]), up = tf.tensor2d(c.upstream, [c.n, c.h]);
  try {
    const out = expertCombine(y, rows, g);
    check.shape(out.shape, [c.n, c.h], 'out');
    check.close(await data(out), c.out, tol, 'out');
    out.dispose();
    const [dy, dg] = tf.grads((a: tf.Tensor, bb: tf.Tensor) =>
                                  sumAll(tf.mul(expertCombine(a as tf.Tensor2D, rows, bb as tf.Tensor2D), up)) as
                                  tf.Scalar)([y, g]);
    check.close(await data(dy), c.dY, tol, 'dY');
    check.close(await data(dg), c.dGates, tol, 'dGates (0 for pairs without a row)');
    tf.dispose([dy, dg]);
  } finally {
    tf.dispose([y, rows, g, up]);
  }
  return c.description;
};

const RUNNERS: Record<FuzzOp, CaseRunner> = {
  linearCrossEntropy: runLce,
  topOneSuppression: runTopOne,
  routeTopK: runRoute,
  expertDispatch: runDispatch,
  groupedMatMul: runGroupedMatMul,
  expertCombine: runCombine,
};

const KERNELS: Record<FuzzOp, string|null> = {
  linearCrossEntropy: SluiceLinearCrossEntropy,
  topOneSuppression: SluiceTopOneSuppression,
  routeTopK: null,  // stock tfjs ops (softmax/sigmoid, topk, gather) on every path
  expertDispatch: SluiceExpertDispatch,
  groupedMatMul: SluiceGroupedMatMul,
  expertCombine: SluiceExpertCombine,
};

interface Tally {
  tried: number; failed: number; kernel: number; ms: number;
}

// ---------------------------------------------------------------- the suite

export function describeFuzzSuite(constraints: Constraints = ALL_ENVS) {
  describeKernelAndComposite('fuzz', Object.values(KERNELS).filter((k): k is string => k != null), constraints,
                             (env, forceComposite) => {
    const tol = backendTolerance(env.backendName);
    const config = fuzzConfig(env.backendName);
    const path = forceComposite ? 'composite' : 'registered kernel or composite';
    const tallies = new Map<FuzzOp, Tally>();

    afterAll(() => {
      if (tallies.size === 0) return;
      let tried = 0, failed = 0;
      const parts = [...tallies].map(([op, t]) => {
        tried += t.tried;
        failed += t.failed;
        const via = KERNELS[op] == null ? 'stock ops' : t.kernel === t.tried ? 'kernel' :
                                                        t.kernel === 0 ? 'composite' : `kernel ${t.kernel}`;
        return `${op} ${t.tried} (${via}, ${t.failed} failed, ${(t.ms / 1000).toFixed(1)} s)`;
      });
      console.log(`\nfuzz totals on '${env.backendName}' (${path}), base seed ${config.baseSeed}: ${tried} cases, ` +
                  `${failed} failed: ${parts.join('; ')}`);
    });

    for (const op of FUZZ_OPS) {
      if (config.replay && config.replay.op !== op) continue;
      const count = config.replay ? 1 : config.perOp[op];
      const first = config.replay ? config.replay.index : 0;
      for (let start = first; start < first + count; start += BATCH) {
        const end = Math.min(first + count, start + BATCH);
        const label = config.replay ? `${op} replay of case ${config.replay.index}, seed ${config.replay.seed}` :
                                      `${op} cases ${start}..${end - 1} (base seed ${config.baseSeed})`;
        it(`${label}: values and gradients match float64`, async () => {
          const tally = tallies.get(op) ?? {tried: 0, failed: 0, kernel: 0, ms: 0};
          tallies.set(op, tally);
          const failures: string[] = [];
          const started = Date.now();
          for (let i = start; i < end; ++i) {
            const seed = config.replay ? config.replay.seed : caseSeed(config.baseSeed, op, i);
            const check = new CaseCheck();
            const before = tf.memory().numTensors;
            const caseStarted = Date.now();
            let description = `${op} seed=${seed}`;
            try {
              description = await RUNNERS[op](seed, i, tol, check);
            } catch (e) {
              description = check.description || description;
              check.problems.push(`threw ${(e as Error).stack?.split('\n').slice(0, 8).join(' | ') ?? e}`);
            }
            if (config.verbose) console.log(`  ${Date.now() - caseStarted} ms  ${description}`);
            const leaked = tf.memory().numTensors - before;
            if (leaked !== 0) check.problems.push(`${leaked} tensors left behind`);
            ++tally.tried;
            const kernel = KERNELS[op];
            if (kernel != null && useRegisteredKernel(kernel)) ++tally.kernel;
            if (check.problems.length > 0) {
              ++tally.failed;
              failures.push(`case ${i}: ${description}\n      replay: SLUICE_FUZZ_REPLAY=${op}:${seed}:${i}` +
                            `\n      ${check.problems.join('\n      ')}`);
            }
          }
          tally.ms += Date.now() - started;
          expect(failures.length)
              .withContext(`${failures.length} of ${end - start} fuzz cases failed on '${env.backendName}' ` +
                           `(${path}):\n    ${failures.join('\n    ')}\n`)
              .toBe(0);
        });
      }
    }
  });
}
