/**
 * Conformance suite of topOneSuppression, run by every backend package:
 * values and gradients against the float64 reference at shapes that are not
 * multiples of any block size, ties (first index wins), V = 1, N = 0,
 * alpha = 0, NaN rows, finite differences, bad input and leaks. Each case
 * runs twice: through the backend's kernel (when it has one) and forcing the
 * composite.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SluiceTopOneSuppression} from '../kernel_names';
import {topOneSuppression} from '../ops/top_one_suppression';
import {sumAll} from '../internal';
import {topOneSuppressionReferenceBackward, topOneSuppressionReferenceForward} from '../reference/top_one_suppression_ref';

import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {withoutStockGradients} from './no_stock_gradients';
import {seededRandom, uniformArray} from './random';

interface Case {
  n: number; v: number;
  seed: number;
  /** undefined: call the op without alpha (default 1). */
  alpha?: number;
  offset?: number;
}

/** Penalty and dLogits of Σ w_i·penalty_i (own upstream gradient per row) against the reference. */
async function checkAgainstReference(logitsValues: Float32Array, n: number, v: number, alpha: number|undefined,
                                     tol: number, seed: number) {
  const a = alpha ?? 1;
  const weights = uniformArray(seededRandom(seed + 1000), n, 0.5, 1.5);
  const logits = tf.tensor2d(logitsValues, [n, v]);
  const w = tf.tensor1d(weights);
  const penalty = alpha === undefined ? topOneSuppression(logits) : topOneSuppression(logits, alpha);
  const dLogits = tf.grad((z: tf.Tensor) => {
    const p = alpha === undefined ? topOneSuppression(z as tf.Tensor2D) : topOneSuppression(z as tf.Tensor2D, alpha);
    return tf.sum(tf.mul(p, w));
  })(logits);
  const fwd = topOneSuppressionReferenceForward(logitsValues, n, v, a);
  expect(penalty.shape).toEqual([n]);
  expect(penalty.dtype).toBe('float32');
  expectClose(await penalty.data(), fwd.penalty, tol, 'penalty');
  expect(dLogits.shape).toEqual([n, v]);
  expectClose(await dLogits.data(), topOneSuppressionReferenceBackward(fwd, v, a, weights), tol, 'dLogits');
  tf.dispose([logits, w, penalty, dLogits]);
}

function randomLogits(k: Case): Float32Array {
  return uniformArray(seededRandom(k.seed), k.n * k.v, -3, 3).map(x => x + (k.offset ?? 0));
}

const CASES: Array<[string, Case]> = [
  ['N=37, V=1003, alpha 0.15', {n: 37, v: 1003, seed: 1, alpha: 0.15}],
  ['alpha absent (default 1), N=64, V=257', {n: 64, v: 257, seed: 2}],
  ['alpha = 0', {n: 11, v: 29, seed: 3, alpha: 0}],
  ['V=1', {n: 9, v: 1, seed: 4, alpha: 0.5}],
  ['N=1, V=1', {n: 1, v: 1, seed: 5}],
  ['N=1, V=300', {n: 1, v: 300, seed: 6, alpha: 2}],
  ['N=130, V=3', {n: 130, v: 3, seed: 7, alpha: 0.2}],
  ['V=2', {n: 17, v: 2, seed: 8, alpha: 0.3}],
  ['V=4099 (past one 4096 block)', {n: 3, v: 4099, seed: 9, alpha: 0.1}],
  ['logits sharing an offset of 1e3', {n: 20, v: 300, seed: 10, alpha: 0.5, offset: 1000}],
];

/**
 * Rows whose maximum appears several times; the gradient must go to the first
 * one only. Positions straddle likely block and workgroup edges (255/256, 511/512).
 */
function tiedLogits(): {values: Float32Array, n: number, v: number, firstMax: number[], laterMax: number[][]} {
  const v = 1003;
  const tiedAt = [[10, 1000], [255, 256, 511], [512, 1002], [1002]];
  const rand = seededRandom(41);
  const values = uniformArray(rand, 5 * v, -1, 1);
  tiedAt.forEach((positions, i) => positions.forEach(j => values[i * v + j] = 2));
  values.fill(0.25, 4 * v, 5 * v);  // a constant row: every index is a maximum
  tiedAt.push(Array.from({length: v}, (_, j) => j));
  return {values, n: 5, v, firstMax: tiedAt.map(p => p[0]), laterMax: tiedAt.map(p => p.slice(1))};
}

export function describeTopOneSuppressionConformance(constraints: Constraints = ALL_ENVS) {
  describeKernelAndComposite('topOneSuppression', [SluiceTopOneSuppression], constraints, env => {
    const tol = backendTolerance(env.backendName);

    for (const [name, k] of CASES) {
      it(`${name}: penalty and gradient match float64 (N=${k.n}, V=${k.v})`,
         async () => checkAgainstReference(randomLogits(k), k.n, k.v, k.alpha, tol, k.seed));
    }

    it('ties: the gradient goes to the first maximum only', async () => {
      const {values, n, v, firstMax, laterMax} = tiedLogits();
      const alpha = 0.4;
      await checkAgainstReference(values, n, v, alpha, tol, 42);
      // Spelled out, independent of the reference's own argmax.
      const g = await tf.grad((z: tf.Tensor) => tf.sum(topOneSuppression(z as tf.Tensor2D, alpha)))(
                    tf.tensor2d(values, [n, v])).data();
      for (let i = 0; i < n; ++i) {
        expect(g[i * v + firstMax[i]]).withContext(`row ${i}, first maximum`).toBeCloseTo(alpha * (1 - 1 / v), 5);
        for (const j of laterMax[i]) {
          expect(g[i * v + j]).withContext(`row ${i}, later maximum at ${j}`).toBeCloseTo(-alpha / v, 5);
        }
      }
    });

    it('N=0 gives an empty penalty and an empty gradient', async () => {
      const z = tf.zeros([0, 5]) as tf.Tensor2D;
      const p = topOneSuppression(z, 0.3);
      expect(p.shape).toEqual([0]);
      // sumAll: tf.sum of an empty tensor fails on webgl.
      const g = tf.grad((x: tf.Tensor) => sumAll(topOneSuppression(x as tf.Tensor2D, 0.3)))(z);
      expect(g.shape).toEqual([0, 5]);
      expect((await g.data()).length).toBe(0);
    });

    it('a NaN makes its row NaN and leaves the other rows exact', async () => {
      const n = 4, v = 37, alpha = 0.3;
      const values = uniformArray(seededRandom(51), n * v, -2, 2);
      values[1 * v + 5] = NaN;
      values[3 * v + 0] = NaN;  // at the first position, where a running max starts
      const weights = [0.7, 1.1, 1.3, 0.9];
      const z = tf.tensor2d(values, [n, v]);
      const p = await topOneSuppression(z, alpha).data();
      const g = await tf.grad((x: tf.Tensor) =>
                                  tf.sum(tf.mul(topOneSuppression(x as tf.Tensor2D, alpha), weights)))(z).data();
      const fwd = topOneSuppressionReferenceForward(values, n, v, alpha);
      const dRef = topOneSuppressionReferenceBackward(fwd, v, alpha, weights);
      expect(Number.isNaN(p[1])).withContext(`penalty[1] = ${p[1]}`).toBe(true);
      expect(Number.isNaN(p[3])).withContext(`penalty[3] = ${p[3]}`).toBe(true);
      for (const i of [0, 2]) {
        expectClose([p[i]], [fwd.penalty[i]], tol, `penalty[${i}]`);
        expectClose(g.slice(i * v, (i + 1) * v), dRef.slice(i * v, (i + 1) * v), tol, `dLogits row ${i}`);
      }
    });

    it('gradient agrees with central finite differences of the op itself', async () => {
      const n = 4, v = 9, alpha = 0.7;
      const rand = seededRandom(61);
      const base = uniformArray(rand, n * v, -1, 1);
      for (let i = 0; i < n; ++i) {
        base[i * v + Math.floor(rand() * v)] = 1.5;  // a clear maximum: differences stay on one linear piece
      }
      const weights = tf.tensor1d([0.5, 1, 1.5, 2]);
      const f = (z: tf.Tensor) => tf.sum(tf.mul(topOneSuppression(z as tf.Tensor2D, alpha), weights));
      const analytic = await tf.grad(f)(tf.tensor2d(base, [n, v])).data();
      const h = 1e-2;
      const numeric = new Float64Array(n * v);
      for (let i = 0; i < n * v; ++i) {
        // Async reads: webgpu's dataSync needs OffscreenCanvas, which Node (Dawn) lacks.
        const at = async (delta: number) => {
          const loss = tf.tidy(() => {
            const moved = Float32Array.from(base);
            moved[i] += delta;
            return f(tf.tensor2d(moved, [n, v]));
          });
          const value = (await loss.data())[0];
          loss.dispose();
          return value;
        };
        numeric[i] = (await at(h) - await at(-h)) / (2 * h);
      }
      expectClose(analytic, numeric, 2e-2, 'dLogits vs finite differences');
    });

    it('works with tf.train optimizers: SGD shrinks the top-1 gap', async () => {
      const z = tf.variable(tf.tensor2d(uniformArray(seededRandom(71), 6 * 13, -2, 2), [6, 13]));
      const opt = tf.train.sgd(0.5);
      const gap = () => tf.sum(topOneSuppression(z, 1)) as tf.Scalar;
      const first = (await gap().data())[0];
      for (let step = 0; step < 10; ++step) {
        opt.minimize(gap);
      }
      expect((await gap().data())[0]).toBeLessThan(first * 0.5);
      opt.dispose();
      z.dispose();
    });

    it('takes TensorLike logits (nested arrays) like tensors', async () => {
      const values = [[2, 0, 1], [5, 5, 2]];
      const fromArray = topOneSuppression(values, 0.1);
      const fromTensor = topOneSuppression(tf.tensor2d(values), 0.1);
      expectClose(await fromArray.data(), await fromTensor.data(), 0, 'nested array vs tensor');
      expectClose(await fromArray.data(), topOneSuppressionReferenceForward(Float32Array.from(values.flat()), 2, 3, 0.1)
                                            .penalty, tol, 'vs float64');
      tf.dispose([fromArray, fromTensor]);
    });

    it('forward and backward need no stock-op gradient (tfjs-core alone registers none)', async () => {
      await withoutStockGradients(async () => {
        const logits = randomLogits({n: 13, v: 37, seed: 82});
        const z = tf.tensor2d(logits, [13, 37]);
        // tf.grads of the [N] output itself: its upstream gradient is 1 per row (tf.sum would need Sum's gradient).
        const [dz] = tf.grads((x: tf.Tensor) => topOneSuppression(x, 0.3))([z]);
        const fwd = topOneSuppressionReferenceForward(logits, 13, 37, 0.3);
        expectClose(await dz.data(), topOneSuppressionReferenceBackward(fwd, 37, 0.3, new Float64Array(13).fill(1)), tol,
                    'dLogits');
        tf.dispose([z, dz]);
      });
    });

    it('leaks no tensors in forward, backward or on error', () => {
      const z = tf.tensor2d(uniformArray(seededRandom(81), 7 * 11), [7, 11]);
      const before = tf.memory().numTensors;
      topOneSuppression(z, 0.2).dispose();
      topOneSuppression(z).dispose();
      tf.grad((x: tf.Tensor) => tf.sum(topOneSuppression(x as tf.Tensor2D, 0.2)))(z).dispose();
      const {value, grads} = tf.valueAndGrads((x: tf.Tensor) => tf.sum(topOneSuppression(x as tf.Tensor2D)))([z]);
      tf.dispose([value, grads]);
      expect(() => topOneSuppression(z, -1)).toThrowError();
      expect(tf.memory().numTensors).toBe(before);
      z.dispose();
    });
  });

  describeWithFlags('topOneSuppression bad input', constraints, () => {
    type Inputs = Record<'z'|'z1'|'z3'|'zInt'|'z0'|'gone', tf.Tensor>;
    const makeInputs = (): Inputs => {
      const gone = tf.zeros([2, 3]);
      gone.dispose();
      return {z: tf.zeros([2, 3]), z1: tf.zeros([3]), z3: tf.zeros([2, 3, 4]), zInt: tf.zeros([2, 3], 'int32'),
              z0: tf.zeros([3, 0]), gone};
    };
    type T2 = tf.Tensor2D;
    const cases: Array<[string, (t: Inputs) => unknown, RegExp]> = [
      ['logits rank 1', t => topOneSuppression(t.z1 as T2), /topOneSuppression: logits must be rank 2 \[N, V\], got rank 1/],
      ['logits rank 3', t => topOneSuppression(t.z3 as T2),
       /topOneSuppression: logits must be rank 2 \[N, V\], got rank 3 \(shape \[2,3,4\]\)/],
      ['logits int32', t => topOneSuppression(t.zInt as T2), /logits must be of dtype float32, got int32/],
      ['logits V = 0', t => topOneSuppression(t.z0 as T2), /logits must be of shape \[N, V\] with V >= 1, got shape \[3,0\]/],
      ['logits not a tensor', () => topOneSuppression('z' as unknown as T2),
       /logits must be a tf.Tensor or TensorLike \[N, V\], got string/],
      ['logits disposed', t => topOneSuppression(t.gone as T2), /logits must be a live tf.Tensor/],
      ['alpha negative', t => topOneSuppression(t.z as T2, -0.1), /topOneSuppression: alpha must be >= 0, got -0.1/],
      ['alpha NaN', t => topOneSuppression(t.z as T2, NaN), /alpha must be a finite number, got NaN/],
      ['alpha Infinity', t => topOneSuppression(t.z as T2, Infinity), /alpha must be a finite number, got Infinity/],
      ['alpha a string', t => topOneSuppression(t.z as T2, '0.1' as unknown as number), /alpha must be a finite number/],
      ['alpha null', t => topOneSuppression(t.z as T2, null as unknown as number), /alpha must be a finite number, got null/],
    ];
    for (const [name, call, message] of cases) {
      it(`${name}: throws a clear error and leaks nothing`, () => {
        const inputs = makeInputs();
        const before = tf.memory().numTensors;
        expect(() => call(inputs)).toThrowError(message);
        expect(tf.memory().numTensors).withContext('tensors left behind by the failed call').toBe(before);
        tf.dispose(Object.values(inputs));
      });
    }
  });
}
