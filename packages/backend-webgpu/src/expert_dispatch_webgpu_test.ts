/**
 * webgpu-only checks of the sparse-MoE kernels at shapes the conformance
 * suite does not reach: several dispatch blocks, more experts than one
 * workgroup's histogram (E > 1024) and than one scan chunk, rows that are not
 * multiples of the tiles, grids folded across the workgroup limit (forced
 * small through SLUICE_WEBGPU_MAX_WORKGROUPS), and the static capacity
 * layout built on the GPU for every drop policy.
 * References are plain JS loops (float64 sums).
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {expertCombine, expertDispatch, groupedMatMul, SluiceGroupedMatMul} from '@sluice/core';
import {backendTolerance, dispatchReference, expectClose, seededRandom, staticSourceRows, uniformArray,
        withFlags} from '@sluice/core/testing';

import {SLUICE_WEBGPU_MAX_WORKGROUPS} from './flags_webgpu';

const WEBGPU: Constraints = {predicate: env => env.backendName === 'webgpu'};

interface Shape {
  name: string;
  n: number; d: number; h: number; e: number; k: number;
  /** Workgroups per dispatch dimension (0: the device's). */
  maxWorkgroups: number;
  /** Experts the tokens choose from (the rest stay empty); default all. */
  used?: number;
}

const SHAPES: Shape[] = [
  // 1000 pairs: 4 blocks of 256, the last partial; rows not multiples of the 32-row tiles.
  {name: 'several blocks, partial tiles (scalar loads)', n: 500, d: 19, h: 37, e: 7, k: 2, maxWorkgroups: 0},
  {name: 'several blocks, partial tiles (vec4 loads)', n: 500, d: 20, h: 36, e: 7, k: 2, maxWorkgroups: 0},
  // 1301 buckets: two histogram chunks and six scan chunks of the offsets; most experts empty.
  {name: 'E = 1300 (> 1024 buckets), most experts empty', n: 300, d: 5, h: 6, e: 1300, k: 3, maxWorkgroups: 0},
  {name: 'E = 300, every expert used', n: 700, d: 4, h: 9, e: 300, k: 2, maxWorkgroups: 0},
  {name: 'E = 300, 250 used, vec4 loads, grids folded', n: 700, d: 8, h: 12, e: 300, k: 2, maxWorkgroups: 40,
   used: 250},
  // Every grid folds (into y and z for the 52 grouped-matmul tiles): 4 workgroups per dimension.
  {name: 'grids folded (4 workgroups per dimension)', n: 333, d: 11, h: 45, e: 5, k: 2, maxWorkgroups: 4},
  {name: 'k = 4, one expert of 5 empty, 3 workgroups per dimension', n: 90, d: 6, h: 7, e: 5, k: 4, maxWorkgroups: 3,
   used: 4},
];

/** Distinct experts per token (as top-k gives) from the first `used`. */
function routes(s: Shape, seed: number): Int32Array {
  const rand = seededRandom(seed);
  const used = s.used ?? s.e;
  const out = new Int32Array(s.n * s.k);
  for (let t = 0; t < s.n; ++t) {
    const pool = Array.from({length: used}, (_, j) => j);
    for (let j = 0; j < s.k; ++j) {
      out[t * s.k + j] = pool.splice(Math.floor(rand() * pool.length), 1)[0];
    }
  }
  return out;
}

/** Registers the suite; test entries that run a 'webgpu' env call it. */
export function describeWebGPUExpertDispatch() {
describeWithFlags('sparse expert dispatch webgpu kernels', WEBGPU, env => {
  const tol = backendTolerance(env.backendName);

  // Registration: registration_webgpu_test.ts (run by every part with a webgpu env).

  for (const s of SHAPES) {
    it(`${s.name}: dispatch, grouped matmul, its gradient and combine match JS loops ` +
           `(N=${s.n}, D=${s.d}, H=${s.h}, E=${s.e}, k=${s.k})`,
       () => withFlags({[SLUICE_WEBGPU_MAX_WORKGROUPS]: s.maxWorkgroups}, async () => {
      const {n, d, h, e, k} = s;
      const pairs = n * k;
      const idx = routes(s, n + e);
      const xv = uniformArray(seededRandom(1), n * d, -1, 1);
      const wv = uniformArray(seededRandom(2), e * d * h, -1, 1);
      const gv = uniformArray(seededRandom(3), pairs, 0.1, 1);
      const rv = uniformArray(seededRandom(4), pairs * h, -1, 1);
      // Stable counting sort.
      const order: number[] = [];
      const offsets = [0];
      for (let ex = 0; ex < e; ++ex) {
        for (let p = 0; p < pairs; ++p) {
          if (idx[p] === ex) order.push(p);
        }
        offsets.push(order.length);
      }
      const x = tf.tensor2d(xv, [n, d]), indices = tf.tensor2d(idx, [n, k], 'int32');
      const w = tf.tensor3d(wv, [e, d, h]), gates = tf.tensor2d(gv, [n, k]);
      const before = tf.memory().numTensors;
      const out = expertDispatch(x, indices, e);
      expect(Array.from(await out.sourceRows.data())).toEqual(order);
      expect(Array.from(await out.expertOffsets.data())).toEqual(offsets);
      expect((await out.droppedCount.data())[0]).toBe(0);
      const rows = new Float64Array(pairs * d);
      order.forEach((p, r) => rows.set(xv.subarray(Math.floor(p / k) * d, (Math.floor(p / k) + 1) * d), r * d));
      expectClose(await out.dispatched.data(), rows, 0, 'dispatched rows are copies');

      const y = groupedMatMul(out.dispatched, w, out.expertOffsets);
      const expY = new Float64Array(pairs * h);
      const expDx = new Float64Array(pairs * d), expDw = new Float64Array(e * d * h);
      for (let ex = 0; ex < e; ++ex) {
        for (let r = offsets[ex]; r < offsets[ex + 1]; ++r) {
          for (let q = 0; q < d; ++q) {
            for (let j = 0; j < h; ++j) {
              const wq = wv[(ex * d + q) * h + j];
              expY[r * h + j] += rows[r * d + q] * wq;
              expDx[r * d + q] += rv[r * h + j] * wq;
              expDw[(ex * d + q) * h + j] += rows[r * d + q] * rv[r * h + j];
            }
          }
        }
      }
      expectClose(await y.data(), expY, tol, 'y');
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
                                    tf.sum(tf.mul(groupedMatMul(a as tf.Tensor2D, b as tf.Tensor3D, out.expertOffsets),
                                                  tf.tensor2d(rv, [pairs, h]))))([out.dispatched, w]);
      expectClose(await dx.data(), expDx, tol, 'dx');
      expectClose(await dw.data(), expDw, tol, 'dW (0 for empty experts)');

      const combined = expertCombine(y, out.sourceRows, gates);
      const expOut = new Float64Array(n * h);
      order.forEach((p, r) => {
        const t = Math.floor(p / k);
        for (let j = 0; j < h; ++j) expOut[t * h + j] += gv[p] * expY[r * h + j];
      });
      expectClose(await combined.data(), expOut, tol, 'combined');
      tf.dispose([out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount, out.expertCounts, y, dx, dw,
                  combined]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, indices, w, gates]);
    }));
  }

  for (const kk of [35, 36]) {
  it(`transposed weights ([E, H, K]) in the forward kernel, K=${kk}`, async () => {
    const sizes = [40, 0, 1, 33], h = 70, e = sizes.length;
    const m = sizes.reduce((a, b) => a + b, 0);
    const xv = uniformArray(seededRandom(5), m * kk, -1, 1), wv = uniformArray(seededRandom(6), e * h * kk, -1, 1);
    const offsets = [0];
    sizes.forEach(c => offsets.push(offsets[offsets.length - 1] + c));
    const expected = new Float64Array(m * h);
    for (let ex = 0; ex < e; ++ex) {
      for (let r = offsets[ex]; r < offsets[ex + 1]; ++r) {
        for (let j = 0; j < h; ++j) {
          for (let q = 0; q < kk; ++q) expected[r * h + j] += xv[r * kk + q] * wv[(ex * h + j) * kk + q];
        }
      }
    }
    const inputs = {x: tf.tensor2d(xv, [m, kk]), weights: tf.tensor3d(wv, [e, h, kk]),
                    expertOffsets: tf.tensor1d(offsets, 'int32')};
    const y = tf.engine().runKernel(SluiceGroupedMatMul, inputs, {transposeWeights: true}) as tf.Tensor;
    expect(y.shape).toEqual([m, h]);
    expectClose(await y.data(), expected, tol, 'y');
    tf.dispose([y, inputs.x, inputs.weights, inputs.expertOffsets]);
  });
  }

  it('M = 0 and N = 0 run no program and give empty or zero results', async () => {
    const x = tf.zeros([0, 3]) as tf.Tensor2D, w = tf.ones([2, 3, 4]) as tf.Tensor3D;
    const d = expertDispatch(x, tf.zeros([0, 2], 'int32') as tf.Tensor2D, 2);
    expect(d.dispatched.shape).toEqual([0, 3]);
    expect(Array.from(await d.expertOffsets.data())).toEqual([0, 0, 0]);
    const y = groupedMatMul(d.dispatched, w, d.expertOffsets);
    expect(y.shape).toEqual([0, 4]);
    // Tokens without any row (M = 0, N = 3): zeros.
    const out = expertCombine(tf.zeros([0, 4]) as tf.Tensor2D, tf.zeros([0], 'int32') as tf.Tensor1D,
                              tf.ones([3, 2]) as tf.Tensor2D);
    expectClose(await out.data(), new Float64Array(12), 0, 'combine of no rows');
  });

  it('out-of-range expert indices on the GPU (unchecked) sort last and give NaN rows, never finite ones', async () => {
    // Made on the GPU, so the op cannot read them for its range check.
    const idx = tf.add(tf.tensor2d([1, 7, -1, 0, 1, 2], [3, 2], 'int32'), tf.scalar(0, 'int32')) as tf.Tensor2D;
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const out = expertDispatch(x, idx, 3);
    expect(Array.from(await out.expertOffsets.data())).toEqual([0, 1, 3, 4]);
    expect(Array.from(await out.sourceRows.data())).toEqual([3, 0, 4, 5, 1, 2]);
    const rows = Array.from(await out.dispatched.data());
    expect(rows.slice(0, 8)).toEqual([3, 4, 1, 2, 5, 6, 5, 6]);
    expect(rows.slice(8).every(v => Number.isNaN(v))).toBe(true);
    tf.dispose([idx, x, out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount]);
  });

  // The static capacity layout built on the GPU (no readback), at shapes past one block and one
  // histogram chunk, for every drop policy, against core's per-expert float64 reference.
  // The last flag: score by gates of which a quarter are NaN and some ±Inf or ±3.4028234663852886e38 (the
  // finite float32 extremes they rank as), so the drops fall among tied NaN gates.
  const CAPACITY_SHAPES: Array<[Shape, number, 'position'|'slotMajor'|'score', boolean?]> = [
    [SHAPES[0], 120, 'position'],
    [SHAPES[0], 120, 'slotMajor'],
    [SHAPES[0], 120, 'score'],
    [SHAPES[0], 120, 'score', true],
    [SHAPES[2], 1, 'score'],
    [SHAPES[6], 60, 'slotMajor'],
  ];
  const SPECIAL_GATES = [NaN, NaN, NaN, NaN, -Infinity, Infinity, -3.4028234663852886e38, 3.4028234663852886e38];
  for (const [s, capacity, policy, special] of CAPACITY_SHAPES) {
    it(`capacity ${capacity}, ${policy} priority${special ? ' with NaN and ±Inf gates' : ''}, ${s.name}: the static ` +
           `layout, drops, counts, dx and combine match the per-expert reference (N=${s.n}, D=${s.d}, E=${s.e}, ` +
           `k=${s.k})`,
       () => withFlags({[SLUICE_WEBGPU_MAX_WORKGROUPS]: s.maxWorkgroups}, async () => {
      const {n, d, e, k} = s;
      const idx = routes(s, n + e);
      const xv = uniformArray(seededRandom(1), n * d, -1, 1);
      // Gates on a grid of 16 values: ties, so the score order's tie rule is exercised.
      const grid = Float32Array.from(uniformArray(seededRandom(3), n * k, 0, 1), v => Math.round(v * 16) / 16);
      const pick = seededRandom(4);
      // Ranked by; the combine and dx checks below use the grid gates (NaN there would only poison the sums).
      const gv = special ? grid.map(v => (pick() < 0.5 ? SPECIAL_GATES[Math.floor(pick() * 8)] : v)) : grid;
      const ref = dispatchReference(idx, e, capacity, k, policy, gv);
      const slots = staticSourceRows(ref.rowsOfExpert, capacity);
      const x = tf.tensor2d(xv, [n, d]), indices = tf.tensor2d(idx, [n, k], 'int32'), gates = tf.tensor2d(grid, [n, k]);
      const ranking = tf.tensor2d(gv, [n, k]);
      const before = tf.memory().numTensors;
      const options = {capacity, dropPolicy: policy, ...(policy === 'score' ? {gates: ranking} : {})};
      const out = expertDispatch(x, indices, e, options);
      expect(out.dispatched.shape).toEqual([e * capacity, d]);
      expect(Array.from(await out.sourceRows.data())).toEqual(slots);
      expect(Array.from(await out.expertOffsets.data())).toEqual(Array.from({length: e + 1}, (_, i) => i * capacity));
      expect((await out.droppedCount.data())[0]).toBe(ref.dropped);
      expect(Array.from(await out.expertCounts.data())).toEqual(ref.counts);
      const rows = new Float64Array(slots.length * d);
      slots.forEach((p, r) => {
        if (p >= 0) rows.set(xv.subarray(Math.floor(p / k) * d, (Math.floor(p / k) + 1) * d), r * d);
      });
      expectClose(await out.dispatched.data(), rows, 0, 'dispatched rows are copies, empty slots zero');
      const combined = expertCombine(out.dispatched, out.sourceRows, gates);
      const expOut = new Float64Array(n * d);
      slots.forEach((p, r) => {
        if (p < 0) return;
        for (let q = 0; q < d; ++q) expOut[Math.floor(p / k) * d + q] += grid[p] * rows[r * d + q];
      });
      expectClose(await combined.data(), expOut, tol, 'combined (empty slots add nothing)');
      const dx = tf.grad((a: tf.Tensor) => tf.sum(expertCombine(expertDispatch(a as tf.Tensor2D, indices, e, options)
                                                                    .dispatched, out.sourceRows, gates)))(x);
      const expDx = new Float64Array(n * d);
      slots.forEach(p => {
        if (p < 0) return;
        for (let q = 0; q < d; ++q) expDx[Math.floor(p / k) * d + q] += grid[p];
      });
      expectClose(await dx.data(), expDx, tol, 'dx');
      tf.dispose([out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount, out.expertCounts, combined, dx]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, indices, gates, ranking]);
    }));
  }
});
}
