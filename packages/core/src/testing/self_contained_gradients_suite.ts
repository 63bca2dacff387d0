/**
 * The MoE ops' forward and backward need no stock-op gradient: run by
 * test/node_cpu_bare.ts, a process that loads @tensorflow/tfjs-core, the cpu
 * backend and sluice, and never imports tfjs's register_all_gradients (nor
 * its chained ops). Gradients are asked for with an explicit upstream dy, so
 * the loss itself needs no Sum or Mul gradient either, and are checked
 * against central differences of float64 references, through the sluice
 * kernels and through the forced composite.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SluiceExpertCombine, SluiceExpertDispatch, SluiceGroupedMatMul} from '../kernel_names';
import {expertCombine} from '../ops/expert_combine';
import {expertDispatch} from '../ops/expert_dispatch';
import {groupedMatMul} from '../ops/grouped_mat_mul';
import {routeTopK} from '../ops/route_top_k';
import {dispatchReference, routeTopKReference, staticSourceRows} from '../reference/expert_dispatch_ref';

import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {seededRandom, uniformArray} from './random';

/** Central differences of `f` at `at` for the entries `picks`. */
function numericGrad(f: (v: Float64Array) => number, at: ArrayLike<number>, picks: number[], h: number): number[] {
  return picks.map(i => {
    const plus = Float64Array.from(at), minus = Float64Array.from(at);
    plus[i] += h;
    minus[i] -= h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}

export function describeSelfContainedGradients(constraints: Constraints = ALL_ENVS) {
  describeKernelAndComposite('MoE ops without stock-op gradients',
                             [SluiceExpertDispatch, SluiceGroupedMatMul, SluiceExpertCombine], constraints, env => {
    const tol = backendTolerance(env.backendName);

    it('this process registered no stock gradient', () => {
      for (const kernel of ['Mul', 'Sum', 'Softmax', 'Sigmoid', 'GatherV2', 'RealDiv', 'Reshape', 'MatMul']) {
        expect(tf.getGradient(kernel)).withContext(kernel).toBeUndefined();
      }
    });

    it('routeTopK (sigmoid, bias, group limit): d(gates·W + scores·V)/dlogits matches float64', async () => {
      const n = 5, e = 6, k = 2, groups = {numGroups: 3, topKGroups: 2};
      const logits = uniformArray(seededRandom(61), n * e, -2, 2);
      const bias = uniformArray(seededRandom(62), e, -0.2, 0.2);
      const w = uniformArray(seededRandom(63), n * k, 0.5, 1.5), v = uniformArray(seededRandom(64), n * e, -1, 1);
      const z = tf.tensor2d(logits, [n, e]), b = tf.tensor1d(bias);
      const options = {scoring: 'sigmoid' as const, bias: b, returnScores: true, ...groups};
      const [dGates] = tf.grads((x: tf.Tensor) => routeTopK(x as tf.Tensor2D, k, options).gates)([z],
                                                                                           tf.tensor2d(w, [n, k]));
      const [dScores] = tf.grads((x: tf.Tensor) => routeTopK(x as tf.Tensor2D, k, options).scores!)([z],
                                                                                              tf.tensor2d(v, [n, e]));
      const all = Array.from({length: n * e}, (_, i) => i);
      const ref = (which: 'gates'|'scores', weights: Float32Array) => (at: Float64Array) => {
        const r = routeTopKReference(at as unknown as Float32Array, n, e, k, 'sigmoid', bias, true, groups);
        return r[which].reduce((a, x, j) => a + x * weights[j], 0);
      };
      expectClose(await dGates.data(), numericGrad(ref('gates', w), logits, all, 1e-4), Math.max(tol, 1e-3),
                  'dLogits through the gates');
      expectClose(await dScores.data(), numericGrad(ref('scores', v), logits, all, 1e-4), Math.max(tol, 1e-3),
                  'dLogits through the scores');
      tf.dispose([z, b, dGates, dScores]);
    });

    it('dispatch (capacity, score drops) → groupedMatMul → combine: dx, dW, dGates match float64', async () => {
      const n = 7, d = 3, h = 2, e = 3, k = 2, capacity = 3;
      const rand = seededRandom(71);
      const indices = new Int32Array(n * k);
      for (let t = 0; t < n; ++t) {
        const first = Math.floor(rand() * e);
        indices[t * k] = first;
        indices[t * k + 1] = (first + 1 + Math.floor(rand() * (e - 1))) % e;
      }
      const xv = uniformArray(seededRandom(72), n * d, -1, 1), wv = uniformArray(seededRandom(73), e * d * h, -1, 1);
      const gv = uniformArray(seededRandom(74), n * k, 0.1, 1), rv = uniformArray(seededRandom(75), n * h, -1, 1);
      const slots = staticSourceRows(dispatchReference(indices, e, capacity, k, 'score', gv).rowsOfExpert, capacity);
      // out[t] = Σ over kept slots r of expert e with pair p of token t: g[p] · x[t] · W_e; loss = Σ out ⊙ R.
      const loss = (x: ArrayLike<number>, w: ArrayLike<number>, g: ArrayLike<number>) => {
        let s = 0;
        slots.forEach((p, r) => {
          if (p < 0) return;
          const t = Math.floor(p / k), ex = Math.floor(r / capacity);
          for (let j = 0; j < h; ++j) {
            let y = 0;
            for (let q = 0; q < d; ++q) y += x[t * d + q] * w[(ex * d + q) * h + j];
            s += g[p] * y * rv[t * h + j];
          }
        });
        return s;
      };
      const x = tf.tensor2d(xv, [n, d]), w = tf.tensor3d(wv, [e, d, h]), g = tf.tensor2d(gv, [n, k]);
      const idx = tf.tensor2d(indices, [n, k], 'int32');
      const [dx, dw, dg] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const out = expertDispatch(a as tf.Tensor2D, idx, e, {capacity, dropPolicy: 'score', gates: c as tf.Tensor2D});
        expect(Array.from(out.sourceRows.dataSync())).toEqual(slots);
        return expertCombine(groupedMatMul(out.dispatched, b as tf.Tensor3D, out.expertOffsets), out.sourceRows,
                             c as tf.Tensor2D);
      })([x, w, g], tf.tensor2d(rv, [n, h]));
      const pick = (size: number) => Array.from({length: size}, (_, i) => i);
      expectClose(await dx.data(), numericGrad(v => loss(v, wv, gv), xv, pick(n * d), 1e-3), Math.max(tol, 1e-3), 'dx');
      expectClose(await dw.data(), numericGrad(v => loss(xv, v, gv), wv, pick(e * d * h), 1e-3), Math.max(tol, 1e-3),
                  'dW');
      expectClose(await dg.data(), numericGrad(v => loss(xv, wv, v), gv, pick(n * k), 1e-3), Math.max(tol, 1e-3),
                  'dGates (0 for dropped pairs)');
      tf.dispose([x, w, g, idx, dx, dw, dg]);
    });
  });
}
