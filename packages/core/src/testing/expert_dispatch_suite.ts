/**
 * Conformance suite of the sparse MoE ops (routeTopK, expertDispatch,
 * groupedMatMul, expertCombine) against float64 references written per
 * expert, run for the registered kernels and again for the forced composite:
 * values, gradients (analytic float64 and finite differences of the whole
 * sparse FFN), edge cases, bad input and leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SluiceExpertDispatch, SluiceGroupedMatMul} from '../kernel_names';
import {expertCombine} from '../ops/expert_combine';
import {expertDispatch} from '../ops/expert_dispatch';
import {groupedMatMul} from '../ops/grouped_mat_mul';
import {routeTopK} from '../ops/route_top_k';
import {sumAll} from '../internal';
import {dispatchReference, expertCombineReference, groupedMatMulReference, moeFfnReference, routeTopKReference,
        staticSourceRows} from '../reference/expert_dispatch_ref';

import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {seededRandom, uniformArray} from './random';

interface DispatchCase {
  name: string;
  n: number; d: number; e: number; k: number;
  capacity: number;  // -1: dropless
  pattern: 'random'|'oneExpert'|'someEmpty';
  dropPolicy?: 'position'|'slotMajor'|'score';
  /** Half the gates NaN, ±Inf or ±3.4028234663852886e38 (the finite float32 extremes they rank as). */
  specialGates?: boolean;
}

const CASES: DispatchCase[] = [
  {name: 'dropless', n: 13, d: 7, e: 4, k: 2, capacity: -1, pattern: 'random'},
  {name: 'capacity 3', n: 13, d: 7, e: 4, k: 2, capacity: 3, pattern: 'random'},
  {name: 'capacity 1', n: 9, d: 5, e: 3, k: 2, capacity: 1, pattern: 'random'},
  {name: 'capacity 0 (everything dropped)', n: 6, d: 3, e: 3, k: 1, capacity: 0, pattern: 'random'},
  {name: 'one expert (E=1, k=1)', n: 7, d: 5, e: 1, k: 1, capacity: -1, pattern: 'random'},
  {name: 'k = E', n: 5, d: 6, e: 3, k: 3, capacity: -1, pattern: 'random'},
  {name: 'all tokens to one expert', n: 11, d: 3, e: 5, k: 1, capacity: -1, pattern: 'oneExpert'},
  {name: 'experts with no tokens', n: 10, d: 5, e: 6, k: 2, capacity: -1, pattern: 'someEmpty'},
  {name: 'larger, not multiples of 4', n: 131, d: 33, e: 7, k: 2, capacity: 45, pattern: 'random'},
  {name: 'capacity 2, slot-major priority', n: 11, d: 4, e: 3, k: 2, capacity: 2, pattern: 'random',
   dropPolicy: 'slotMajor'},
  {name: 'capacity 3, score priority (ties in pair order)', n: 12, d: 3, e: 4, k: 3, capacity: 3, pattern: 'random',
   dropPolicy: 'score'},
  // Drops fall among tied NaN and −Inf gates: tf.topk over −Inf keys (−Inf − −Inf is NaN in its comparator)
  // would leave them out of pair order.
  {name: 'capacity 12, score priority, NaN and ±Inf gates (NaN last, ties in pair order)', n: 24, d: 2, e: 3, k: 2,
   capacity: 12, pattern: 'random', dropPolicy: 'score', specialGates: true},
  {name: 'capacity 4, slot-major, k = 3, experts with no tokens', n: 10, d: 5, e: 6, k: 3, capacity: 4,
   pattern: 'someEmpty', dropPolicy: 'slotMajor'},
];

/** Gates on a coarse grid, so the score policy meets ties. */
function makeGates(c: DispatchCase, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const special = [NaN, NaN, NaN, -Infinity, Infinity, -3.4028234663852886e38, 3.4028234663852886e38, NaN];
  return Float32Array.from({length: c.n * c.k}, () => (c.specialGates && rand() < 0.5 ?
      special[Math.floor(rand() * special.length)] : Math.round(rand() * 4) / 4));
}

/** Distinct experts per token (as top-k gives), by pattern. */
function makeIndices(c: DispatchCase, seed: number): Int32Array {
  const rand = seededRandom(seed);
  const out = new Int32Array(c.n * c.k);
  const pool = c.pattern === 'someEmpty' ? [1, 2, 4, 5].filter(j => j < c.e) : Array.from({length: c.e}, (_, j) => j);
  for (let t = 0; t < c.n; ++t) {
    if (c.pattern === 'oneExpert') {
      out[t] = 2;
      continue;
    }
    const choice = pool.slice();
    for (let s = 0; s < c.k; ++s) {
      const at = Math.floor(rand() * choice.length);
      out[t * c.k + s] = choice.splice(at, 1)[0];
    }
  }
  return out;
}

export function describeExpertDispatchConformance(constraints: Constraints = ALL_ENVS) {
  describeKernelAndComposite('sparse expert dispatch', [SluiceExpertDispatch, SluiceGroupedMatMul], constraints,
                             env => {
    const tol = backendTolerance(env.backendName);

    type RouteCase = [string, number, number, number, 'softmax'|'sigmoid', boolean, boolean|undefined,
                      {numGroups: number, topKGroups: number}|null];
    const routeCases: RouteCase[] = [
      ['softmax k=2', 13, 5, 2, 'softmax', false, undefined, null],
      ['sigmoid k=3 with a selection bias', 11, 6, 3, 'sigmoid', true, undefined, null],
      ['k = E, not normalised', 4, 3, 3, 'softmax', false, false, null],
      ['k=1 normalised', 9, 4, 1, 'softmax', true, true, null],
      ['sigmoid k=4, 8 experts in 4 groups, 2 kept, with a bias (DeepSeek-V3)', 12, 8, 4, 'sigmoid', true, true,
       {numGroups: 4, topKGroups: 2}],
      ['softmax k=2, 9 experts in 3 groups, 1 kept', 10, 9, 2, 'softmax', false, undefined,
       {numGroups: 3, topKGroups: 1}],
      ['groups of one expert (the group score is its one score)', 7, 4, 2, 'sigmoid', true, undefined,
       {numGroups: 4, topKGroups: 3}],
    ];
    for (const [name, n, e, k, scoring, withBias, normalize, groups] of routeCases) {
      it(`routeTopK ${name}: indices, gates, scores and their gradient match float64`, async () => {
        const logits = uniformArray(seededRandom(n * 7 + e), n * e, -2, 2);
        const bias = withBias ? uniformArray(seededRandom(3), e, -0.3, 0.3) : null;
        const norm = normalize ?? k > 1;
        const ref = routeTopKReference(logits, n, e, k, scoring, bias, norm, groups);
        const z = tf.tensor2d(logits, [n, e]);
        const b = bias ? tf.tensor1d(bias) : undefined;
        const options = {scoring, bias: b, normalize, returnScores: true, ...(groups ?? {})};
        const {expertIndices, gates, scores} = routeTopK(z, k, options);
        expect(Array.from(await expertIndices.data())).toEqual(Array.from(ref.indices));
        expectClose(await gates.data(), ref.gates, tol, 'gates');
        expectClose(await scores!.data(), ref.scores, tol, 'scores');
        // d(Σ gates·w + Σ scores·v)/dlogits by central differences of the float64 reference (selection fixed).
        const w = uniformArray(seededRandom(5), n * k, 0.5, 1.5);
        const v = uniformArray(seededRandom(6), n * e, -0.5, 0.5);
        const g = await tf.grad((x: tf.Tensor) => {
          const r = routeTopK(x as tf.Tensor2D, k, options);
          return tf.add(tf.sum(tf.mul(r.gates, tf.tensor2d(w, [n, k]))), tf.sum(tf.mul(r.scores!, tf.tensor2d(v, [n, e]))));
        })(z).data();
        const numeric = new Float64Array(n * e);
        const h = 1e-4;
        for (let i = 0; i < n * e; ++i) {
          const at = (delta: number) => {
            const moved = Float64Array.from(logits);
            moved[i] += delta;
            const r = routeTopKReference(moved as unknown as Float32Array, n, e, k, scoring, bias, norm, groups);
            return r.gates.reduce((a, x, j) => a + x * w[j], 0) + r.scores.reduce((a, x, j) => a + x * v[j], 0);
          };
          numeric[i] = (at(h) - at(-h)) / (2 * h);
        }
        expectClose(g, numeric, Math.max(tol, 1e-3), 'dLogits');
      });
    }

    it('routeTopK group limit: a worked example of DeepSeek-V3\'s rule (sum of the two best, not the best)',
       async () => {
      // 6 experts in 3 groups of 2, keep 1 group, k = 2 (transformers
      // models/deepseek_v3/modeling_deepseek_v3.py, DeepseekV3TopkRouter.forward). Sigmoid scores of these
      // logits: group 0 = {0.95, 0.05} sums to 1.00, group 1 = {0.6, 0.6} to 1.2, group 2 = {0.3, 0.3} to 0.6.
      // The best single score is in group 0, but group 1 has the largest sum of its two best, so the
      // token takes experts 2 and 3 (ties to the lower index: 2 first).
      const logit = (p: number) => Math.log(p / (1 - p));
      const z = tf.tensor2d([[0.95, 0.05, 0.6, 0.6, 0.3, 0.3].map(logit)]);
      const {expertIndices, gates} = routeTopK(z, 2, {scoring: 'sigmoid', numGroups: 3, topKGroups: 1});
      expect(Array.from(await expertIndices.data())).toEqual([2, 3]);
      expectClose(await gates.data(), [0.5, 0.5], tol, 'normalised gates');
    });

    it('routeTopK: ties go to the lower expert index', async () => {
      const z = tf.tensor2d([1, 3, 3, 0, 3, 2, 2, 2, 2, 2], [2, 5]);
      const {expertIndices} = routeTopK(z, 3);
      expect(Array.from(await expertIndices.data())).toEqual([1, 2, 4, 0, 1, 2]);
    });

    for (const c of CASES) {
      const policy = c.dropPolicy ?? 'position';
      it(`expertDispatch ${c.name}: layout, offsets, drops, counts and dx match the per-expert reference ` +
             `(N=${c.n}, D=${c.d}, E=${c.e}, k=${c.k}, ${policy})`, async () => {
        const indices = makeIndices(c, c.n + c.e);
        const gv = makeGates(c, c.n * 3 + c.k);
        const xv = uniformArray(seededRandom(c.d), c.n * c.d, -1, 1);
        const ref = dispatchReference(indices, c.e, c.capacity, c.k, policy, gv);
        // Dropless: ragged rows in expert order; with a capacity, the static layout [E·C] (-1: empty slot).
        const order = c.capacity < 0 ? ref.rowsOfExpert.flat() : staticSourceRows(ref.rowsOfExpert, c.capacity);
        const x = tf.tensor2d(xv, [c.n, c.d]), idx = tf.tensor2d(indices, [c.n, c.k], 'int32');
        const g = tf.tensor2d(gv, [c.n, c.k]);
        const options = c.capacity >= 0 ? {capacity: c.capacity, dropPolicy: policy,
                                           ...(policy === 'score' ? {gates: g} : {})} : {};
        const before = tf.memory().numTensors;
        const out = expertDispatch(x, idx, c.e, options);
        expect(Array.from(await out.sourceRows.data())).toEqual(order);
        const offsets = [0];
        ref.rowsOfExpert.forEach(r => offsets.push(offsets[offsets.length - 1] + (c.capacity < 0 ? r.length : c.capacity)));
        expect(Array.from(await out.expertOffsets.data())).toEqual(offsets);
        expect((await out.droppedCount.data())[0]).toBe(ref.dropped);
        expect(Array.from(await out.expertCounts.data())).toEqual(ref.counts);
        const expectedRows = new Float64Array(order.length * c.d);
        order.forEach((p, r) => {
          if (p >= 0) expectedRows.set(xv.subarray(Math.floor(p / c.k) * c.d, (Math.floor(p / c.k) + 1) * c.d), r * c.d);
        });
        expect(out.dispatched.shape).toEqual([order.length, c.d]);
        expectClose(await out.dispatched.data(), expectedRows, 0, 'dispatched rows are copies, empty slots zero');
        tf.dispose([out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount, out.expertCounts]);
        expect(tf.memory().numTensors).toBe(before);
        // dx of Σ dispatched ⊙ R: each row's R goes back to its token, empty slots add nothing.
        const rv = uniformArray(seededRandom(9), Math.max(1, order.length * c.d), -1, 1);
        const dx = await tf.grad((xx: tf.Tensor) => {
          const d = expertDispatch(xx as tf.Tensor2D, idx, c.e, options).dispatched;
          return sumAll(tf.mul(d, tf.tensor2d(rv.subarray(0, order.length * c.d), [order.length, c.d])));
        })(x).data();
        const expectedDx = new Float64Array(c.n * c.d);
        order.forEach((p, r) => {
          if (p < 0) return;
          const t = Math.floor(p / c.k);
          for (let q = 0; q < c.d; ++q) expectedDx[t * c.d + q] += rv[r * c.d + q];
        });
        expectClose(dx, expectedDx, tol, 'dx');
        tf.dispose([x, idx, g]);
      });
    }

    it('expertDispatch: a capacity >= N·k drops nothing and runs as dropless (ragged)', async () => {
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]), idx = tf.tensor2d([1, 0, 1], [3, 1], 'int32');
      const out = expertDispatch(x, idx, 2, {capacity: 1e9});
      expect(out.dispatched.shape).toEqual([3, 2]);
      expect(Array.from(await out.sourceRows.data())).toEqual([1, 0, 2]);
      expect(Array.from(await out.expertOffsets.data())).toEqual([0, 1, 3]);
      tf.dispose([x, idx, out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount, out.expertCounts]);
    });

    it('expertDispatch takes TensorLike inputs (nested arrays), as tfjs ops do', async () => {
      const out = expertDispatch([[1, 2], [3, 4]], [[1], [0]], 2, {capacity: 1});
      expect(Array.from(await out.sourceRows.data())).toEqual([1, 0]);
      expectClose(await out.dispatched.data(), [3, 4, 1, 2], 0, 'rows');
      const y = expertCombine(out.dispatched, out.sourceRows, [[0.5], [2]]);
      expectClose(await y.data(), [0.5, 1, 6, 8], 0, 'combined');
    });

    it('groupedMatMul: values and gradients (dx, dW) match float64, with empty and one-row segments', async () => {
      const sizes = [3, 0, 1, 7, 0, 12];
      const k = 9, h = 5, e = sizes.length, m = sizes.reduce((a, b) => a + b, 0);
      const xv = uniformArray(seededRandom(21), m * k, -1, 1);
      const wv = uniformArray(seededRandom(22), e * k * h, -1, 1);
      const rv = uniformArray(seededRandom(23), m * h, -1, 1);
      const offsets = [0];
      sizes.forEach(s => offsets.push(offsets[offsets.length - 1] + s));
      const x = tf.tensor2d(xv, [m, k]), w = tf.tensor3d(wv, [e, k, h]);
      const off = tf.tensor1d(offsets, 'int32');
      const y = groupedMatMul(x, w, off);
      expectClose(await y.data(), groupedMatMulReference(xv, wv, sizes, k, h), tol, 'y');
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
                                    tf.sum(tf.mul(groupedMatMul(a as tf.Tensor2D, b as tf.Tensor3D, off),
                                                  tf.tensor2d(rv, [m, h]))))([x, w]);
      const expDx = new Float64Array(m * k), expDw = new Float64Array(e * k * h);
      let r = 0;
      sizes.forEach((rows, ex) => {
        for (let i = 0; i < rows; ++i, ++r) {
          for (let q = 0; q < k; ++q) {
            for (let j = 0; j < h; ++j) {
              expDx[r * k + q] += rv[r * h + j] * wv[ex * k * h + q * h + j];
              expDw[ex * k * h + q * h + j] += xv[r * k + q] * rv[r * h + j];
            }
          }
        }
      });
      expectClose(await dx.data(), expDx, tol, 'dx');
      expectClose(await dw.data(), expDw, tol, 'dW (0 for the empty experts)');
      tf.dispose([x, w, off, y, dx, dw]);
    });

    it('expertCombine: values, dY and dGates match float64, with dropped pairs, empty slots and tokens without rows',
       async () => {
      const n = 7, k = 2, h = 5;
      // Pairs in expert order as a dispatch would leave them; 3, 8 and 9 are dropped, so token 4 has no row
      // and tokens 1 and 5 keep one slot; -1 marks the empty slots of a static capacity layout.
      const rowsOf = [0, 5, 12, -1, 1, 6, 10, 2, 11, -1, -1, 4, 13, 7];
      const m = rowsOf.length;
      const yv = uniformArray(seededRandom(51), m * h, -1, 1);
      const gv = uniformArray(seededRandom(52), n * k, 0.1, 1);
      const rv = uniformArray(seededRandom(53), n * h, -1, 1);
      const ref = expertCombineReference(yv, rowsOf, gv, n, k, h, rv);
      const y = tf.tensor2d(yv, [m, h]), rows = tf.tensor1d(rowsOf, 'int32'), g = tf.tensor2d(gv, [n, k]);
      const before = tf.memory().numTensors;
      const out = expertCombine(y, rows, g);
      expect(out.shape).toEqual([n, h]);
      expectClose(await out.data(), ref.out, tol, 'out');
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const [dy, dg] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
                                    tf.sum(tf.mul(expertCombine(a as tf.Tensor2D, rows, b as tf.Tensor2D),
                                                  tf.tensor2d(rv, [n, h]))))([y, g]);
      expectClose(await dy.data(), ref.dY, tol, 'dY');
      expectClose(await dg.data(), ref.dGates, tol, 'dGates (0 for the dropped pairs)');
      tf.dispose([y, rows, g, dy, dg]);
    });

    it('sparse FFN (route → dispatch → groupedMatMul → relu → groupedMatMul → combine) matches the dense ' +
           'float64 reference, with finite-difference gradients', async () => {
      const n = 10, d = 6, h = 5, u = 4, e = 4, k = 2;
      const capacity = 4;
      const xv = uniformArray(seededRandom(31), n * d, -1, 1);
      const lv = uniformArray(seededRandom(32), n * e, -2, 2);
      const w1v = uniformArray(seededRandom(33), e * d * h, -1, 1);
      const w2v = uniformArray(seededRandom(34), e * h * u, -1, 1);
      const rv = uniformArray(seededRandom(35), n * u, -1, 1);
      const x = tf.tensor2d(xv, [n, d]), logits = tf.tensor2d(lv, [n, e]);
      const w1 = tf.tensor3d(w1v, [e, d, h]), w2 = tf.tensor3d(w2v, [e, h, u]);
      const ffn = (xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor, z: tf.Tensor) => {
        const {expertIndices, gates} = routeTopK(z as tf.Tensor2D, k);
        const dsp = expertDispatch(xx as tf.Tensor2D, expertIndices, e, capacity >= 0 ? {capacity} : {});
        const hid = tf.relu(groupedMatMul(dsp.dispatched, a as tf.Tensor3D, dsp.expertOffsets));
        return expertCombine(groupedMatMul(hid, b as tf.Tensor3D, dsp.expertOffsets), dsp.sourceRows, gates);
      };
      const route = routeTopKReference(lv, n, e, k, 'softmax', null, true);
      const ref = moeFfnReference(xv, n, d, route.indices, route.gates, k, w1v, w2v, h, u, e, capacity);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => ffn(x, w1, w2, logits));
      expectClose(await out.data(), ref, tol, 'output');
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, z: tf.Tensor) =>
                                 tf.sum(tf.mul(ffn(a, b, c, z), tf.tensor2d(rv, [n, u]))))([x, w1, w2, logits]);
      const lossRef = (xs: Float32Array, a: Float32Array, b: Float32Array, z: Float32Array) => {
        const rt = routeTopKReference(z, n, e, k, 'softmax', null, true);
        const o = moeFfnReference(xs, n, d, rt.indices, rt.gates, k, a, b, h, u, e, capacity);
        return o.reduce((s, v, i) => s + v * rv[i], 0);
      };
      const inputs = [xv, w1v, w2v, lv];
      const step = 1e-3;
      for (let which = 0; which < 4; ++which) {
        const analytic = await grads[which].data();
        const rand = seededRandom(40 + which);
        const picks = Array.from({length: 10}, () => Math.floor(rand() * inputs[which].length));
        const numeric = picks.map(i => {
          const at = (delta: number) => {
            const moved = inputs.map(a => Float32Array.from(a));
            moved[which][i] += delta;
            return lossRef(moved[0], moved[1], moved[2], moved[3]);
          };
          return (at(step) - at(-step)) / (2 * step);
        });
        expectClose(picks.map(i => analytic[i]), numeric, 2e-2, `input ${which} vs finite differences`);
      }
      tf.dispose([x, logits, w1, w2, ...grads]);
    });

    it('N=0: every op returns empty results and empty or zero gradients', async () => {
      const x = tf.zeros([0, 4]) as tf.Tensor2D, z = tf.zeros([0, 3]) as tf.Tensor2D;
      const w = tf.ones([3, 4, 2]) as tf.Tensor3D;
      const {expertIndices, gates} = routeTopK(z, 2);
      expect(expertIndices.shape).toEqual([0, 2]);
      const d = expertDispatch(x, expertIndices, 3);
      expect(d.dispatched.shape).toEqual([0, 4]);
      expect(Array.from(await d.expertOffsets.data())).toEqual([0, 0, 0, 0]);
      const y = groupedMatMul(d.dispatched, w, d.expertOffsets);
      expect(y.shape).toEqual([0, 2]);
      expect(expertCombine(y, d.sourceRows, gates).shape).toEqual([0, 2]);
      // sumAll: tf.sum of an empty tensor fails on webgl and webgpu.
      const dw = tf.grad((ww: tf.Tensor) => sumAll(groupedMatMul(d.dispatched, ww as tf.Tensor3D, d.expertOffsets)))(w);
      expectClose(await dw.data(), new Float64Array(24), 0, 'dW');
    });

    it('leaks no tensors across forward and backward', async () => {
      const x = tf.randomNormal([8, 5]) as tf.Tensor2D, z = tf.randomNormal([8, 3]) as tf.Tensor2D;
      const w = tf.randomNormal([3, 5, 4]) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      // The sum is read, so the GPU backends finish the work before it is freed.
      const total = tf.tidy(() => {
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
          const {expertIndices, gates} = routeTopK(b as tf.Tensor2D, 2);
          const dsp = expertDispatch(a as tf.Tensor2D, expertIndices, 3, {capacity: 4});
          return tf.sum(expertCombine(groupedMatMul(dsp.dispatched, w, dsp.expertOffsets), dsp.sourceRows, gates));
        })([x, z]);
        return tf.add(tf.sum(grads[0]), tf.sum(grads[1]));
      });
      expect(Number.isFinite((await total.data())[0])).toBe(true);
      total.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, z, w]);
    });

    const x = () => tf.zeros([4, 3]) as tf.Tensor2D;
    const BAD: Array<[string, () => unknown, RegExp]> = [
      ['routeTopK k > E', () => routeTopK(tf.zeros([4, 3]) as tf.Tensor2D, 4),
       /routeTopK: k must be <= the number of experts E = 3, got 4/],
      ['routeTopK k < 1', () => routeTopK(tf.zeros([4, 3]) as tf.Tensor2D, 0), /routeTopK: k must be an integer >= 1, got 0/],
      ['routeTopK bias of the wrong length', () => routeTopK(tf.zeros([4, 3]) as tf.Tensor2D, 1,
                                                             {bias: tf.zeros([2]) as tf.Tensor1D}),
       /options.bias must be of shape \[3\] \(E from routerLogits\), got shape \[2\]/],
      ['routeTopK unknown scoring', () => routeTopK(tf.zeros([4, 3]) as tf.Tensor2D, 1, {scoring: 'tanh' as 'softmax'}),
       /options.scoring must be one of 'softmax', 'sigmoid', got "tanh"/],
      ['expertDispatch index out of range', () => expertDispatch(x(), tf.tensor2d([0, 1, 2, 3], [4, 1], 'int32'), 3),
       /expertDispatch: expertIndices\[3\]\[0\] must be in \[0, 3\), got 3/],
      ['expertDispatch negative index', () => expertDispatch(x(), tf.tensor2d([0, 1, -1, 2, 0, 1, 1, 1], [4, 2], 'int32'), 3),
       /expertDispatch: expertIndices\[1\]\[0\] must be in \[0, 3\), got -1/],
      ['expertDispatch indices for another N', () => expertDispatch(x(), tf.tensor2d([0, 1, 2, 0], [2, 2], 'int32'), 3),
       /must be of shape \[4, k\] \(N from x\), got shape \[2,2\]/],
      ['expertDispatch float indices', () => expertDispatch(x(), tf.zeros([4, 1]) as tf.Tensor2D, 3),
       /expertIndices must be of dtype int32, got float32/],
      ['expertDispatch negative capacity', () => expertDispatch(x(), tf.zeros([4, 1], 'int32') as tf.Tensor2D, 3,
                                                                {capacity: -1}),
       /options.capacity must be an integer >= 0, got -1/],
      ['expertDispatch fractional capacity', () => expertDispatch(x(), tf.zeros([4, 1], 'int32') as tf.Tensor2D, 3,
                                                                  {capacity: 1.5}),
       /expertDispatch: options.capacity must be an integer, got 1.5/],
      ['expertDispatch k = 0', () => expertDispatch(x(), tf.zeros([4, 0], 'int32') as tf.Tensor2D, 3),
       /expertIndices must be of shape \[N, k\] with k >= 1, got shape \[4,0\]/],
      ['routeTopK fractional k', () => routeTopK(tf.zeros([4, 3]) as tf.Tensor2D, 1.5),
       /routeTopK: k must be an integer, got 1.5/],
      ['groupedMatMul weights of rank 2', () => groupedMatMul(x(), tf.zeros([3, 5]) as unknown as tf.Tensor3D,
                                                              tf.tensor1d([0, 4], 'int32')),
       /groupedMatMul: weights must be rank 3 \[E, D, H\], got rank 2/],
      ['groupedMatMul float offsets', () => groupedMatMul(x(), tf.zeros([1, 3, 5]) as tf.Tensor3D,
                                                          tf.tensor1d([0, 4]) as tf.Tensor1D),
       /groupedMatMul: expertOffsets must be of dtype int32, got float32/],
      ['expertCombine sourceRows for another M', () => expertCombine(x(), tf.tensor1d([0, 1, 2], 'int32'),
                                                                     tf.zeros([3, 2]) as tf.Tensor2D),
       /expertCombine: sourceRows must be of shape \[4\] \(M from y\), got shape \[3\]/],
      ['expertDispatch numExperts 0', () => expertDispatch(x(), tf.zeros([4, 1], 'int32') as tf.Tensor2D, 0),
       /numExperts must be an integer >= 1, got 0/],
      ['groupedMatMul weights D mismatch', () => groupedMatMul(x(), tf.zeros([2, 4, 5]) as tf.Tensor3D,
                                                               tf.tensor1d([0, 2, 4], 'int32')),
       /weights must be of shape \[E, 3, H\] \(D from x\), got shape \[2,4,5\]/],
      ['groupedMatMul offsets of the wrong length', () => groupedMatMul(x(), tf.zeros([2, 3, 5]) as tf.Tensor3D,
                                                                        tf.tensor1d([0, 4], 'int32')),
       /expertOffsets must be of shape \[3\] \(E \+ 1 from weights\), got shape \[2\]/],
      ['groupedMatMul offsets not ending at M', () => groupedMatMul(x(), tf.zeros([2, 3, 5]) as tf.Tensor3D,
                                                                    tf.tensor1d([0, 2, 3], 'int32')),
       /expertOffsets\[2\] must be the number of rows of x \(4\), got 3/],
      ['groupedMatMul decreasing offsets', () => groupedMatMul(x(), tf.zeros([2, 3, 5]) as tf.Tensor3D,
                                                               tf.tensor1d([0, 3, 2], 'int32')),
       /expertOffsets\[2\] must be >= expertOffsets\[1\] = 3, got 2/],
      ['expertCombine sourceRows past N·k', () => expertCombine(x(), tf.tensor1d([0, 1, 2, 6], 'int32'),
                                                                tf.zeros([3, 2]) as tf.Tensor2D),
       /sourceRows\[3\] must be in \[-1, 6\) \(-1: an empty slot; N·k from gates \[3,2\]\), got 6/],
      ['expertCombine gates of rank 1', () => expertCombine(x(), tf.tensor1d([0, 1, 2, 3], 'int32'),
                                                            tf.zeros([4]) as unknown as tf.Tensor2D),
       /gates must be rank 2 \[N, k\], got rank 1/],
    ];
    for (const [name, call, message] of BAD) {
      it(`${name}: throws a clear error and leaks nothing`, () => {
        const before = tf.memory().numTensors;
        tf.tidy(() => expect(call).toThrowError(message));
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  });
}
