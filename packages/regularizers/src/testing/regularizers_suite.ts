/**
 * @sluice/regularizers against float64 references: per-sample values and
 * gradients (finite differences of the reference), the fused path against
 * the unfused one's reference, schedules, model.fit, bad input and leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {backendTolerance, expectClose, seededRandom, uniformArray} from '@sluice/core/testing';

import {logitPenalty, maxSupCrossEntropy, sparseCategoricalCrossEntropy, zLoss} from '../losses';
import {cosineSchedule, linearSchedule, scheduleCallback} from '../schedule';

interface RefOptions {ls: number; z: number; alpha: number; ignore: number|null}

/** Per-sample loss of one row of logits (float64). */
function refRow(z: ArrayLike<number>, y: number, o: RefOptions): number {
  const v = z.length;
  if (y === o.ignore) return 0;
  const m = Math.max(...Array.from(z));
  const lse = m + Math.log(Array.from(z).reduce((a, b) => a + Math.exp(b - m), 0));
  const mean = Array.from(z).reduce((a, b) => a + b, 0) / v;
  return lse - (1 - o.ls) * z[y] - o.ls * mean + o.z * lse * lse + o.alpha * (m - mean);
}

function refLosses(z: Float32Array|Float64Array, labels: number[], v: number, o: RefOptions): Float64Array {
  return Float64Array.from(labels, (y, i) => refRow(z.subarray(i * v, (i + 1) * v), y, o));
}

export function describeRegularizersConformance(constraints: Constraints = ALL_ENVS) {
  describeWithFlags('@sluice/regularizers', constraints, env => {
    const tol = backendTolerance(env.backendName);
    const b = 7, v = 11;
    const logits = uniformArray(seededRandom(1), b * v, -3, 3);
    const labels = [3, 0, 10, 5, 5, 2, 9];
    const weights = uniformArray(seededRandom(2), b, 0.5, 1.5);

    const cases: Array<[string, () => (yt: tf.Tensor, yp: tf.Tensor) => tf.Tensor, RefOptions]> = [
      ['sparseCategoricalCrossEntropy()', () => sparseCategoricalCrossEntropy(), {ls: 0, z: 0, alpha: 0, ignore: null}],
      ['sparseCategoricalCrossEntropy with labelSmoothing 0.1, zLoss 0.01, ignoreIndex 5',
       () => sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 0.01, ignoreIndex: 5}),
       {ls: 0.1, z: 0.01, alpha: 0, ignore: 5}],
      ['maxSupCrossEntropy alpha 0.2', () => maxSupCrossEntropy({alpha: 0.2}), {ls: 0, z: 0, alpha: 0.2, ignore: null}],
      ['maxSupCrossEntropy alpha 0.15 with labelSmoothing 0.1', () => maxSupCrossEntropy({alpha: 0.15, labelSmoothing: 0.1}),
       {ls: 0.1, z: 0, alpha: 0.15, ignore: null}],
    ];
    for (const [name, make, o] of cases) {
      it(`${name}: per-sample values (class ids and one-hot) and dLogits match float64`, async () => {
        const loss = make();
        const ids = tf.tensor1d(labels, 'int32');
        const z = tf.tensor2d(logits, [b, v]);
        const expected = refLosses(logits, labels, v, o);
        expectClose(await loss(ids, z).data(), expected, tol, 'class ids');
        if (o.ignore == null) {
          const oneHot = tf.cast(tf.oneHot(ids, v), 'float32');
          expectClose(await loss(oneHot, z).data(), expected, tol, 'one-hot targets');
        }
        const g = await tf.grad((x: tf.Tensor) => tf.sum(tf.mul(loss(ids, x), tf.tensor1d(weights))))(z).data();
        const h = 1e-5;
        const numeric = new Float64Array(b * v);
        for (let i = 0; i < b * v; ++i) {
          const at = (d: number) => {
            const moved = Float64Array.from(logits);
            moved[i] += d;
            return refLosses(moved, labels, v, o).reduce((a, l, r) => a + l * weights[r], 0);
          };
          numeric[i] = (at(h) - at(-h)) / (2 * h);
        }
        expectClose(g, numeric, Math.max(tol, 1e-3), 'dLogits');
      });
    }

    it('fused path (linearCrossEntropy) equals the mean of the float64 reference on hidden·Cᵀ', async () => {
      const n = 9, d = 5;
      const hidden = uniformArray(seededRandom(3), n * d, -1, 1), c = uniformArray(seededRandom(4), v * d, -1, 1);
      const ys = [1, 2, 3, 4, 5, 6, 7, 8, 0];
      const z = new Float64Array(n * v);
      for (let i = 0; i < n; ++i) {
        for (let j = 0; j < v; ++j) {
          for (let q = 0; q < d; ++q) z[i * v + j] += hidden[i * d + q] * c[j * d + q];
        }
      }
      const o = {ls: 0.1, z: 0, alpha: 0.2, ignore: null};
      const expected = refLosses(z, ys, v, o).reduce((a, x) => a + x, 0) / n;
      const got = maxSupCrossEntropy({alpha: 0.2, labelSmoothing: 0.1})
                      .fused(tf.tensor2d(hidden, [n, d]), tf.tensor2d(c, [v, d]), tf.tensor1d(ys, 'int32'));
      expectClose(await got.data(), [expected], tol, 'fused maxSup');
    });

    it('logitPenalty and zLoss match float64', async () => {
      const z = tf.tensor2d(logits, [b, v]);
      const ids = tf.tensor1d(labels, 'int32');
      const pen = Float64Array.from({length: b}, (_, i) =>
          0.01 * logits.subarray(i * v, (i + 1) * v).reduce((a, x) => a + x * x, 0) / v);
      expectClose(await logitPenalty({weight: 0.01})(ids, z).data(), pen, tol, 'logitPenalty');
      const zl = Float64Array.from({length: b}, (_, i) => {
        const row = Array.from(logits.subarray(i * v, (i + 1) * v));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
        return 0.001 * lse * lse;
      });
      expectClose(await zLoss({weight: 0.001})(ids, z).data(), zl, tol, 'zLoss');
    });

    it('schedules: linear and cosine values, clamped after the last step', () => {
      const lin = linearSchedule(0.1, 0.2, 10);
      expect(lin.value).toBeCloseTo(0.1, 12);
      lin.advance(5);
      expect(lin.value).toBeCloseTo(0.15, 12);
      lin.advance(100);
      expect(lin.value).toBeCloseTo(0.2, 12);
      const cos = cosineSchedule(1, 0, 4);
      expectClose([0, 1, 2, 3, 4, 9].map(s => cos.at(s)),
                  [0, 1, 2, 3, 4, 4].map(s => 0.5 * (1 + Math.cos(Math.PI * s / 4))), 1e-12, 'cosine');
    });

    it('model.compile with maxSupCrossEntropy trains, and scheduleCallback advances alpha every batch', async () => {
      const alpha = linearSchedule(0.1, 0.2, 8);
      const model = tfl.sequential({layers: [tfl.layers.dense({inputShape: [4], units: 3})]});
      model.compile({optimizer: tf.train.adam(0.05), loss: maxSupCrossEntropy({alpha, labelSmoothing: 0.05})});
      const rand = seededRandom(8);
      const xv = uniformArray(rand, 48 * 4, -1, 1);
      const yv = Array.from({length: 48}, (_, i) => (xv[i * 4] > 0 ? 1 : 0) + (xv[i * 4 + 1] > 0.3 ? 1 : 0));
      const xs = tf.tensor2d(xv, [48, 4]), ys = tf.oneHot(tf.tensor1d(yv, 'int32'), 3);
      const h = await model.fit(xs, ys, {epochs: 20, batchSize: 12, verbose: 0, callbacks: [scheduleCallback(alpha)]});
      const losses = h.history['loss'] as number[];
      expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
      expect(alpha.step).toBe(20 * 4);
      expect(alpha.value).toBeCloseTo(0.2, 12);
      tf.dispose([xs, ys]);
      model.dispose();
    });

    const BAD: Array<[string, () => unknown, RegExp]> = [
      ['negative alpha', () => maxSupCrossEntropy({alpha: -0.1}), /maxSupCrossEntropy: alpha must be a finite number >= 0/],
      ['NaN alpha', () => maxSupCrossEntropy({alpha: NaN}), /alpha must be a finite number >= 0 \(or a schedule\), got NaN/],
      ['labelSmoothing 1.5', () => sparseCategoricalCrossEntropy({labelSmoothing: 1.5}),
       /labelSmoothing must be in \[0, 1\] \(or a schedule\), got 1.5/],
      ['schedule steps 0', () => linearSchedule(0, 1, 0), /linearSchedule: steps must be a positive integer, got 0/],
      ['schedule from NaN', () => cosineSchedule(NaN, 1, 3), /cosineSchedule: from must be a finite number, got NaN/],
      ['label out of range', () => sparseCategoricalCrossEntropy()(tf.tensor1d([0, 11], 'int32'), tf.zeros([2, 11])),
       /labels\[1\] must be a class id in \[0, 11\), got 11/],
      ['logits of rank 1', () => maxSupCrossEntropy()(tf.tensor1d([0], 'int32'), tf.zeros([3])),
       /yPred must be float32 logits of rank 2 \[batch, classes\], got float32 of shape \[3\]/],
      ['yTrue of another batch', () => sparseCategoricalCrossEntropy()(tf.tensor1d([0], 'int32'), tf.zeros([2, 3])),
       /yTrue must have the batch size of yPred \(2\), got shape \[1\]/],
      ['fractional ignoreIndex', () => sparseCategoricalCrossEntropy({ignoreIndex: 0.5}),
       /ignoreIndex must be an integer, got 0.5/],
    ];
    for (const [name, call, message] of BAD) {
      it(`rejects ${name} with a clear error and leaks nothing`, () => {
        const before = tf.memory().numTensors;
        tf.tidy(() => expect(call).toThrowError(message));
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('leaks no tensors', () => {
      const z = tf.tensor2d(logits, [b, v]), ids = tf.tensor1d(labels, 'int32');
      const before = tf.memory().numTensors;
      for (const loss of [maxSupCrossEntropy(), sparseCategoricalCrossEntropy({ignoreIndex: 5, zLoss: 0.1})]) {
        tf.dispose(loss(ids, z));
        tf.dispose(tf.grad((x: tf.Tensor) => tf.sum(loss(ids, x)))(z));
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
