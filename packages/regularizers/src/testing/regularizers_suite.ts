/**
 * @sluice/regularizers against float64 references (regularizers_ref.ts):
 * per-sample values and dLogits (central differences of the reference) for
 * class ids, [B, 1] ids, one-hot and soft targets; the fused path's value
 * and gradients w.r.t. hidden, classifier and bias; schedules; model.fit with
 * every loss; the callback moving alpha inside fit, checked against the loss
 * values fit reports; bad input; leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {backendTolerance, expectClose, seededRandom, uniformArray} from '@sluice/core/testing';

import {FusedLoss, LossFunction} from '../loss_function';
import {logitPenalty} from '../logit_penalty';
import {maxSupCrossEntropy} from '../max_sup_cross_entropy';
import {cosineSchedule, linearSchedule} from '../schedule';
import {scheduleCallback} from '../schedule_callback';
import {sparseCategoricalCrossEntropy} from '../sparse_categorical_cross_entropy';
import {zLoss} from '../z_loss';
import {numericGradient, refLogitPenalty, refLogits, refLosses, RefTerms, refZLoss} from './regularizers_ref';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, x) => s + x, 0);
const dot = (a: ArrayLike<number>, w: ArrayLike<number>) => sum(Float64Array.from(a, (x, i) => x * w[i]));

export function describeRegularizersConformance(constraints: Constraints = ALL_ENVS) {
  describeWithFlags('@sluice/regularizers', constraints, env => {
    const tol = backendTolerance(env.backendName);
    // Gradients are compared with central differences of a float64 reference: float32 noise dominates.
    const gradTol = Math.max(tol, 1e-3);
    const b = 7, v = 11;
    const logits = uniformArray(seededRandom(1), b * v, -3, 3);
    const labels = [3, 0, 10, 5, 5, 2, 9];
    // Per-sample weights make dLogits depend on each sample's own loss, not just the batch sum.
    const weights = uniformArray(seededRandom(2), b, 0.5, 1.5);
    // Soft targets whose rows do not sum to 1: the loss must use lse·Σt, not lse.
    const soft = uniformArray(seededRandom(3), b * v, 0, 0.2);

    const cases: Array<[string, () => FusedLoss, RefTerms]> = [
      ['sparseCategoricalCrossEntropy()', () => sparseCategoricalCrossEntropy(), {ls: 0, z: 0, alpha: 0, ignore: null}],
      ['sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 0.01, ignoreIndex: 5})',
       () => sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 0.01, ignoreIndex: 5}),
       {ls: 0.1, z: 0.01, alpha: 0, ignore: 5}],
      ['maxSupCrossEntropy() (alpha 0.1 by default)', () => maxSupCrossEntropy(),
       {ls: 0, z: 0, alpha: 0.1, ignore: null}],
      ['maxSupCrossEntropy({alpha: 0.15, labelSmoothing: 0.1})',
       () => maxSupCrossEntropy({alpha: 0.15, labelSmoothing: 0.1}), {ls: 0.1, z: 0, alpha: 0.15, ignore: null}],
      ['maxSupCrossEntropy({alpha: 0.3, ignoreIndex: 0})', () => maxSupCrossEntropy({alpha: 0.3, ignoreIndex: 0}),
       {ls: 0, z: 0, alpha: 0.3, ignore: 0}],
    ];

    async function checkLogitGradient(loss: LossFunction, yTrue: tf.Tensor,
                                      reference: (z: Float64Array) => Float64Array, what: string) {
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(loss(yTrue, x), tf.tensor1d(weights))));
      const got = await g(tf.tensor2d(logits, [b, v])).data();
      expectClose(got, numericGradient(z => dot(reference(z), weights), logits), gradTol, what);
    }

    for (const [name, make, o] of cases) {
      it(`${name}: class ids ([B] and [B, 1]) and one-hot: values and dLogits match float64`, async () => {
        const loss = make();
        const ids = tf.tensor1d(labels, 'int32');
        const z = tf.tensor2d(logits, [b, v]);
        const expected = refLosses(logits, v, labels, false, o);
        expectClose(await loss(ids, z).data(), expected, tol, 'class ids [B]');
        expectClose(await loss(tf.reshape(ids, [b, 1]), z).data(), expected, tol, 'class ids [B, 1]');
        // model.fit hands float32 ids when a user passes them as floats.
        expectClose(await loss(tf.cast(ids, 'float32'), z).data(), expected, tol, 'float32 class ids');
        await checkLogitGradient(loss, ids, x => refLosses(x, v, labels, false, o), 'dLogits (class ids)');
        if (o.ignore == null) {
          const oneHot = tf.oneHot(ids, v);  // int32: the loss must cast it
          expectClose(await loss(tf.cast(oneHot, 'float32'), z).data(), expected, tol, 'one-hot float32');
          expectClose(await loss(oneHot, z).data(), expected, tol, 'one-hot int32');
        }
      });

      if (o.ignore == null || o.ls > 0) {
        it(`${name}: soft targets: values and dLogits match float64`, async () => {
          const loss = make();
          const t = tf.tensor2d(soft, [b, v]);
          // ignoreIndex concerns class ids only; soft targets are taken as they are.
          const so = {...o, ignore: null};
          expectClose(await loss(t, tf.tensor2d(logits, [b, v])).data(), refLosses(logits, v, soft, true, so), tol,
                      'soft targets');
          await checkLogitGradient(loss, t, x => refLosses(x, v, soft, true, so), 'dLogits (soft targets)');
        });
      }
    }

    it('logitPenalty and zLoss: values and dLogits match float64, yTrue unused', async () => {
      const z = tf.tensor2d(logits, [b, v]);
      const ids = tf.tensor1d(labels, 'int32');
      const pen = logitPenalty({weight: 0.01}), zl = zLoss({weight: 0.001});
      expectClose(await pen(ids, z).data(), refLogitPenalty(logits, v, 0.01), tol, 'logitPenalty');
      expectClose(await zl(tf.oneHot(ids, v), z).data(), refZLoss(logits, v, 0.001), tol, 'zLoss');
      await checkLogitGradient(pen, ids, x => refLogitPenalty(x, v, 0.01), 'logitPenalty dLogits');
      await checkLogitGradient(zl, ids, x => refZLoss(x, v, 0.001), 'zLoss dLogits');
      // Defaults: weight 1e-4.
      expectClose(await logitPenalty()(ids, z).data(), refLogitPenalty(logits, v, 1e-4), tol, 'logitPenalty default');
      expectClose(await zLoss()(ids, z).data(), refZLoss(logits, v, 1e-4), tol, 'zLoss default');
    });

    // Fused path: logits = hidden·Cᵀ + bias never exist; compare with the reference on them.
    const n = 9, d = 5;
    const hidden = uniformArray(seededRandom(4), n * d, -1, 1);
    const classifier = uniformArray(seededRandom(5), v * d, -1, 1);
    const bias = uniformArray(seededRandom(6), v, -0.5, 0.5);
    const ys = [1, 2, 5, 4, 5, 6, 7, 10, 0];
    const fusedCases: Array<[string, () => FusedLoss, RefTerms]> = [
      ['maxSupCrossEntropy({alpha: 0.2, labelSmoothing: 0.1})',
       () => maxSupCrossEntropy({alpha: 0.2, labelSmoothing: 0.1}), {ls: 0.1, z: 0, alpha: 0.2, ignore: null}],
      ['sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 0.01, ignoreIndex: 5})',
       () => sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 0.01, ignoreIndex: 5}),
       {ls: 0.1, z: 0.01, alpha: 0, ignore: 5}],
    ];
    for (const [name, make, o] of fusedCases) {
      it(`${name}.fused: mean over kept tokens and d(hidden, classifier, bias) match float64`, async () => {
        const loss = make();
        const kept = ys.filter(y => y !== o.ignore).length;
        const refMean = (h: ArrayLike<number>, c: ArrayLike<number>, bb: ArrayLike<number>) =>
            sum(refLosses(refLogits(h, c, bb, n, d, v), v, ys, false, o)) / kept;
        const h = tf.tensor2d(hidden, [n, d]), c = tf.tensor2d(classifier, [v, d]), bt = tf.tensor1d(bias);
        const lab = tf.tensor1d(ys, 'int32');
        expectClose(await loss.fused(h, c, lab, {bias: bt}).data(), [refMean(hidden, classifier, bias)], tol, 'mean');
        const perToken = refLosses(refLogits(hidden, classifier, bias, n, d, v), v, ys, false, o);
        expectClose(await loss.fused(h, c, lab, {bias: bt, reduction: 'none'}).data(), perToken, tol, 'none');
        expectClose(await loss.fused(h, c, lab, {bias: bt, reduction: 'sum'}).data(), [sum(perToken)], tol, 'sum');
        const grads = tf.grads((hh: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) =>
                                   loss.fused(hh as tf.Tensor2D, cc as tf.Tensor2D, lab, {bias: bb as tf.Tensor1D}));
        const [dh, dc, db] = grads([h, c, bt]);
        expectClose(await dh.data(), numericGradient(x => refMean(x, classifier, bias), hidden), gradTol, 'dHidden');
        expectClose(await dc.data(), numericGradient(x => refMean(hidden, x, bias), classifier), gradTol,
                    'dClassifier');
        expectClose(await db.data(), numericGradient(x => refMean(hidden, classifier, x), bias), gradTol, 'dBias');
      });
    }

    it('fused and per-sample losses read a schedule\'s current alpha at every call', async () => {
      const alpha = linearSchedule(0.1, 0.2, 4);
      const loss = maxSupCrossEntropy({alpha});
      const h = tf.tensor2d(hidden, [n, d]), c = tf.tensor2d(classifier, [v, d]), lab = tf.tensor1d(ys, 'int32');
      const z = refLogits(hidden, classifier, null, n, d, v);
      for (const expectedAlpha of [0.1, 0.125, 0.15]) {
        const o = {ls: 0, z: 0, alpha: expectedAlpha, ignore: null};
        expectClose(await loss.fused(h, c, lab).data(), [sum(refLosses(z, v, ys, false, o)) / n], tol,
                    `fused at alpha ${expectedAlpha}`);
        expectClose(await loss(tf.tensor1d(labels, 'int32'), tf.tensor2d(logits, [b, v])).data(),
                    refLosses(logits, v, labels, false, o), tol, `per-sample at alpha ${expectedAlpha}`);
        alpha.advance();
      }
      alpha.current = 0.5;  // a loop may override the value directly
      expectClose(await loss(tf.tensor1d(labels, 'int32'), tf.tensor2d(logits, [b, v])).data(),
                  refLosses(logits, v, labels, false, {ls: 0, z: 0, alpha: 0.5, ignore: null}), tol, 'overridden');
    });

    it('schedules: linear (up and down) and cosine values, clamped, advance/reset/current', () => {
      const up = linearSchedule(0.1, 0.2, 10);
      expect(up.current).toBe(0.1);
      expect(up.step).toBe(0);
      expectClose([-3, 0, 1, 5, 9, 10, 11, 1e6].map(s => up.value(s)),
                  [0.1, 0.1, 0.11, 0.15, 0.19, 0.2, 0.2, 0.2], 1e-15, 'linear up');
      expect(up.value(10)).toBe(0.2);  // exactly `to` at the end, not 0.1 + 0.1·1 rounded
      expect(up.advance(5)).toBeCloseTo(0.15, 15);
      expect(up.current).toBeCloseTo(0.15, 15);
      expect(up.step).toBe(5);
      up.advance(100);
      expect(up.current).toBe(0.2);
      up.reset();
      expect(up.step).toBe(0);
      expect(up.current).toBe(0.1);
      const down = linearSchedule(1, 0, 4);
      expectClose([0, 1, 2, 3, 4].map(s => down.value(s)), [1, 0.75, 0.5, 0.25, 0], 1e-15, 'linear down');
      const cos = cosineSchedule(1, 0, 4);
      expectClose([0, 1, 2, 3, 4, 9].map(s => cos.value(s)),
                  [1, (1 + Math.SQRT1_2) / 2, 0.5, (1 - Math.SQRT1_2) / 2, 0, 0], 1e-15, 'cosine');
      const cosUp = cosineSchedule(0.1, 0.2, 2);
      expectClose([0, 1, 2].map(s => cosUp.value(s)), [0.1, 0.15, 0.2], 1e-15, 'cosine up');
    });

    function toyModel(seed: number, units = 3, useBias = true) {
      return tfl.sequential({layers: [tfl.layers.dense({inputShape: [4], units, useBias,
                                                        kernelInitializer: tfl.initializers.glorotUniform({seed})})]});
    }
    function toyData(count: number, seed: number) {
      const xv = uniformArray(seededRandom(seed), count * 4, -1, 1);
      const yv = Array.from({length: count}, (_, i) => (xv[i * 4] > 0 ? 1 : 0) + (xv[i * 4 + 1] > 0.3 ? 1 : 0));
      return {xv, yv, xs: tf.tensor2d(xv, [count, 4]), ys: tf.oneHot(tf.tensor1d(yv, 'int32'), 3)};
    }

    const fitCases: Array<[string, () => LossFunction]> = [
      ['sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 1e-3})',
       () => sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 1e-3})],
      ['maxSupCrossEntropy({alpha: 0.1})', () => maxSupCrossEntropy({alpha: 0.1})],
      ['logitPenalty({weight: 1})', () => logitPenalty({weight: 1})],
      ['zLoss({weight: 1})', () => zLoss({weight: 1})],
    ];
    for (const [name, make] of fitCases) {
      it(`model.compile({loss: ${name}}) + model.fit lowers the loss`, async () => {
        const model = toyModel(11);
        model.compile({optimizer: tf.train.adam(0.05), loss: make()});
        const {xs, ys} = toyData(48, 8);
        const hist = await model.fit(xs, ys, {epochs: 12, batchSize: 12, verbose: 0});
        const losses = hist.history['loss'] as number[];
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses[losses.length - 1]).toBeLessThan(0.9 * losses[0]);
        tf.dispose([xs, ys]);
        model.dispose();
      });
    }

    // With a learning rate of 0 the logits stay x·W, so the loss fit reports for
    // each batch is the float64 reference at the alpha the schedule had then.
    async function fitWithFrozenWeights(per: 'batch'|'epoch', batchSize: number, epochs: number) {
      const count = 6;
      const {xv, yv, xs, ys} = toyData(count, 9);
      const w = uniformArray(seededRandom(10), 4 * 3, -2, 2);
      const model = toyModel(1, 3, false);
      model.setWeights([tf.tensor2d(w, [4, 3])]);
      const alpha = linearSchedule(0, 1, 2);
      model.compile({optimizer: tf.train.sgd(0), loss: maxSupCrossEntropy({alpha})});
      const hist = await model.fit(xs, ys, {epochs, batchSize, shuffle: false, verbose: 0,
                                            callbacks: [scheduleCallback({alpha}, {per})]});
      const z = new Float64Array(count * 3);
      for (let i = 0; i < count; ++i) {
        for (let j = 0; j < 3; ++j) {
          for (let q = 0; q < 4; ++q) z[i * 3 + j] += xv[i * 4 + q] * w[q * 3 + j];
        }
      }
      const perSample = (a: number) => refLosses(z, 3, yv, false, {ls: 0, z: 0, alpha: a, ignore: null});
      tf.dispose([xs, ys]);
      model.dispose();
      return {hist: hist.history, alpha, perSample};
    }

    it('scheduleCallback advances alpha after every batch of model.fit, and the loss uses it', async () => {
      const {hist, alpha, perSample} = await fitWithFrozenWeights('batch', 6, 4);
      // One batch per epoch: epoch e runs with alpha = value(e) = min(e, 2) / 2.
      const used = [0, 0.5, 1, 1];
      expectClose(hist['loss'] as number[], used.map(a => sum(perSample(a)) / 6), tol, 'epoch losses');
      expectClose(hist['alpha'] as number[], used, 1e-15, 'logged alpha');
      expect(alpha.step).toBe(4);
    });

    it('scheduleCallback({per: "epoch"}) advances once per epoch', async () => {
      const {hist, alpha, perSample} = await fitWithFrozenWeights('epoch', 3, 3);
      const used = [0, 0.5, 1];
      // Two batches of 3 per epoch, both at the epoch's alpha: the epoch loss is the mean over all 6.
      expectClose(hist['loss'] as number[], used.map(a => sum(perSample(a)) / 6), tol, 'epoch losses');
      expectClose(hist['alpha'] as number[], used, 1e-15, 'logged alpha');
      expect(alpha.step).toBe(3);
    });

    it('model.fit with a scheduled loss leaks no tensors from one fit to the next', async () => {
      const alpha = linearSchedule(0.1, 0.2, 10);
      const model = toyModel(3);
      model.compile({optimizer: tf.train.adam(0.01), loss: maxSupCrossEntropy({alpha, labelSmoothing: 0.05})});
      const {xs, ys} = toyData(24, 12);
      const fit = () => model.fit(xs, ys, {epochs: 2, batchSize: 8, verbose: 0, callbacks: [scheduleCallback(alpha)]});
      await fit();  // the first fit creates the optimizer's slots
      const before = tf.memory().numTensors;
      await fit();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xs, ys]);
      model.dispose();
    });

    const z2 = () => tf.zeros([2, 11]);
    const id2 = (a: number, c: number) => tf.tensor1d([a, c], 'int32');
    const h2 = () => tf.zeros([2, 5]) as tf.Tensor2D, c2 = () => tf.zeros([11, 5]) as tf.Tensor2D;
    const BAD: Array<[string, () => unknown, RegExp]> = [
      ['negative alpha', () => maxSupCrossEntropy({alpha: -0.1}),
       /^maxSupCrossEntropy: alpha must be a finite number >= 0 \(or a schedule of such\), got -0.1$/],
      ['NaN alpha', () => maxSupCrossEntropy({alpha: NaN}), /maxSupCrossEntropy: alpha must be .*, got NaN$/],
      ['infinite alpha', () => maxSupCrossEntropy({alpha: Infinity}), /alpha must be .*, got Infinity$/],
      ['string alpha', () => maxSupCrossEntropy({alpha: '0.1' as unknown as number}), /alpha must be .*, got "0.1"$/],
      ['alpha schedule that turns negative', () => maxSupCrossEntropy({alpha: linearSchedule(0.1, -0.1, 5)}),
       /alpha must be a finite number >= 0 at every step of its schedule, got a schedule from 0.1 to -0.1$/],
      ['alpha schedule overridden with a negative value', () => {
        const alpha = linearSchedule(0.1, 0.2, 5);
        const loss = maxSupCrossEntropy({alpha});
        alpha.current = -1;
        return loss(id2(0, 1), z2());
      }, /maxSupCrossEntropy: alpha must be .*, got its schedule's current value -1$/],
      ['labelSmoothing 1.5', () => sparseCategoricalCrossEntropy({labelSmoothing: 1.5}),
       /^sparseCategoricalCrossEntropy: labelSmoothing must be a number in \[0, 1\] \(or a schedule of such\), got 1.5$/],
      ['labelSmoothing -0.1 (MaxSup)', () => maxSupCrossEntropy({labelSmoothing: -0.1}),
       /maxSupCrossEntropy: labelSmoothing must be a number in \[0, 1\].*, got -0.1$/],
      ['negative zLoss', () => sparseCategoricalCrossEntropy({zLoss: -1}), /zLoss must be a finite number >= 0/],
      ['NaN logitPenalty weight', () => logitPenalty({weight: NaN}), /^logitPenalty: weight must be .*, got NaN$/],
      ['negative zLoss weight', () => zLoss({weight: -1}), /^zLoss: weight must be .*, got -1$/],
      ['misspelt option', () => maxSupCrossEntropy({alhpa: 0.2} as unknown as {}),
       /^maxSupCrossEntropy: options.alhpa must be one of the known options \(alpha, labelSmoothing, ignoreIndex\)/],
      ['fractional ignoreIndex', () => sparseCategoricalCrossEntropy({ignoreIndex: 0.5}),
       /sparseCategoricalCrossEntropy: ignoreIndex must be an integer, got 0.5/],
      ['schedule steps 0', () => linearSchedule(0, 1, 0), /^linearSchedule: steps must be an integer >= 1, got 0$/],
      ['schedule steps -3', () => cosineSchedule(0, 1, -3), /^cosineSchedule: steps must be an integer >= 1, got -3$/],
      ['schedule steps 2.5', () => linearSchedule(0, 1, 2.5), /steps must be an integer, got 2.5/],
      ['schedule from NaN', () => cosineSchedule(NaN, 1, 3), /^cosineSchedule: from must be a finite number, got NaN$/],
      ['schedule value(NaN)', () => linearSchedule(0, 1, 3).value(NaN), /linearSchedule.value: step must be a finite/],
      ['label out of range', () => sparseCategoricalCrossEntropy()(id2(0, 11), z2()),
       /^sparseCategoricalCrossEntropy: yTrue\[1\] must be a class id in \[0, 11\), got 11$/],
      ['negative label without ignoreIndex', () => maxSupCrossEntropy()(id2(-100, 1), z2()),
       /^maxSupCrossEntropy: yTrue\[0\] must be a class id in \[0, 11\), got -100$/],
      ['label out of range with ignoreIndex', () => sparseCategoricalCrossEntropy({ignoreIndex: -100})(id2(-1, 1), z2()),
       /yTrue\[0\] must be a class id in \[0, 11\) or ignoreIndex \(-100\), got -1$/],
      ['fractional float label', () => sparseCategoricalCrossEntropy()(tf.tensor1d([0, 1.5]), z2()),
       /yTrue\[1\] must be a class id in \[0, 11\), got 1.5/],
      ['logits of rank 1', () => maxSupCrossEntropy()(tf.tensor1d([0], 'int32'), tf.zeros([3])),
       /^maxSupCrossEntropy: yPred must be float32 logits of shape \[batch, classes\], got float32 tensor of shape \[3\]$/],
      ['int32 logits', () => zLoss()(id2(0, 1), tf.zeros([2, 3], 'int32')),
       /^zLoss: yPred must be float32 logits .*, got int32 tensor of shape \[2,3\]$/],
      ['missing yTrue', () => maxSupCrossEntropy()(null as unknown as tf.Tensor, z2()),
       /maxSupCrossEntropy: yTrue must be class ids \[2\] or targets \[2,11\], got null/],
      ['class ids of another batch', () => sparseCategoricalCrossEntropy()(tf.tensor1d([0], 'int32'), tf.zeros([2, 3])),
       /yTrue must be class ids \[2\] \(the batch of yPred\) or targets \[2,3\], got int32 tensor of shape \[1\]$/],
      ['targets of another shape', () => maxSupCrossEntropy()(tf.zeros([2, 4]), tf.zeros([2, 3])),
       /^maxSupCrossEntropy: yTrue must be class ids \[2\] or targets of yPred's shape \[2,3\], got float32 tensor of sh/],
      ['fused label out of range', () => maxSupCrossEntropy().fused(h2(), c2(), id2(0, 11)),
       /^maxSupCrossEntropy: labels\[1\] must be a class id in \[0, 11\), got 11$/],
      ['fused -100 label without ignoreIndex (linearCrossEntropy would skip it)',
       () => sparseCategoricalCrossEntropy().fused(h2(), c2(), id2(-100, 1)),
       /^sparseCategoricalCrossEntropy: labels\[0\] must be a class id in \[0, 11\), got -100$/],
      ['fused hidden and classifier of different widths',
       () => maxSupCrossEntropy().fused(h2(), tf.zeros([11, 4]) as tf.Tensor2D, id2(0, 1)),
       /linearCrossEntropy: .*classifier.* must be/],
      ['fused unknown option', () => maxSupCrossEntropy().fused(h2(), c2(), id2(0, 1), {biass: 1} as unknown as {}),
       /maxSupCrossEntropy: fused options.biass must be one of the known options \(bias, reduction\)/],
      ['scheduleCallback of a number', () => scheduleCallback(5 as unknown as []),
       /^scheduleCallback: schedules must be a schedule, an array of schedules or an object of named schedules, got 5$/],
      ['scheduleCallback of a non-schedule', () => scheduleCallback({alpha: 0.1} as unknown as {}),
       /^scheduleCallback: schedules\[alpha\] must be a schedule .*, got 0.1$/],
      ['scheduleCallback per "step"', () => scheduleCallback(linearSchedule(0, 1, 2), {per: 'step' as 'batch'}),
       /^scheduleCallback: options.per must be one of 'batch', 'epoch', got "step"$/],
    ];
    for (const [name, call, message] of BAD) {
      it(`rejects ${name} with an error naming the argument, leaking nothing`, () => {
        const before = tf.memory().numTensors;
        tf.tidy(() => expect(call).toThrowError(message));
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('leaks no tensors: every loss forward and backward, per-sample and fused', () => {
      const z = tf.tensor2d(logits, [b, v]), ids = tf.tensor1d(labels, 'int32'), t = tf.tensor2d(soft, [b, v]);
      const h = tf.tensor2d(hidden, [n, d]), c = tf.tensor2d(classifier, [v, d]), lab = tf.tensor1d(ys, 'int32');
      const losses: LossFunction[] = [maxSupCrossEntropy({labelSmoothing: 0.1}), logitPenalty(), zLoss(),
                                      sparseCategoricalCrossEntropy({ignoreIndex: 5, zLoss: 0.1, labelSmoothing: 0.1})];
      const run = () => {
        for (const loss of losses) {
          for (const y of [ids, t]) {
            tf.dispose(loss(y, z));
            tf.dispose(tf.grad((x: tf.Tensor) => tf.sum(loss(y, x)))(z));
          }
        }
        for (const loss of [losses[0], losses[3]] as FusedLoss[]) {
          tf.dispose(loss.fused(h, c, lab));
          tf.dispose(tf.grads((hh: tf.Tensor, cc: tf.Tensor) =>
                                  loss.fused(hh as tf.Tensor2D, cc as tf.Tensor2D, lab))([h, c]));
        }
      };
      run();  // first calls may cache (label host copies, kernels)
      const before = tf.memory().numTensors;
      run();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([z, ids, t, h, c, lab]);
    });
  });
}
