/**
 * Conformance suite of linearCrossEntropy, run by every backend package:
 * values and gradients against the float64 reference for each option and
 * their combinations, at shapes that are not multiples of any block size,
 * degenerate shapes, finite differences, bad input and leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SluiceLinearCrossEntropy} from '../kernel_names';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import type {LinearCrossEntropyOptions} from '../ops/linear_cross_entropy_options';
import {lceReferenceBackward, lceReferenceForward, lceReferenceReduce} from '../reference/linear_cross_entropy_ref';

import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {describeLinearCrossEntropyAccumulation} from './linear_cross_entropy_accumulation_suite';
import {describeLinearCrossEntropyContract} from './linear_cross_entropy_contract_suite';
import {build, Case, checkAgainstReference, RefOptions} from './linear_cross_entropy_cases';

const N = 252, V = 507, D = 123;  // multiples of no block size
const ALL: RefOptions = {softcap: 6, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.15};

const OPTION_CASES: Array<[string, Case]> = [
  ['plain', {n: N, v: V, d: D, seed: 1}],
  ['bias', {n: N, v: V, d: D, seed: 2, withBias: true}],
  ['softcap', {n: N, v: V, d: D, seed: 3, options: {softcap: 4}}],
  ['labelSmoothing', {n: N, v: V, d: D, seed: 4, options: {labelSmoothing: 0.2}}],
  ['labelSmoothing = 1', {n: 40, v: 37, d: 9, seed: 41, options: {labelSmoothing: 1}}],
  ['zLoss', {n: N, v: V, d: D, seed: 5, options: {zLoss: 1e-2}}],
  ['maxSup', {n: N, v: V, d: D, seed: 6, options: {maxSup: 0.2}}],
  ['ignored tokens (default -100)', {n: N, v: V, d: D, seed: 7, ignoreFraction: 0.3}],
  ['ignoreIndex inside [0, V)', {n: N, v: V, d: D, seed: 8, ignoreFraction: 0.3, options: {ignoreIndex: 3}}],
  ['reduction sum', {n: N, v: V, d: D, seed: 9, ignoreFraction: 0.2, options: {reduction: 'sum'}}],
  ['reduction none', {n: N, v: V, d: D, seed: 10, ignoreFraction: 0.2, options: {reduction: 'none'}}],
  ['all options', {n: N, v: V, d: D, seed: 11, withBias: true, ignoreFraction: 0.2, options: {...ALL}}],
  ['all options, reduction none', {n: N, v: V, d: D, seed: 12, withBias: true, ignoreFraction: 0.2,
                                   options: {...ALL, reduction: 'none'}}],
  ['all options without softcap', {n: N, v: V, d: D, seed: 13, withBias: true, ignoreFraction: 0.1,
                                   options: {labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.15}}],
  ['vocabChunk 100 (does not divide V)', {n: N, v: V, d: D, seed: 14, withBias: true, ignoreFraction: 0.1,
                                          options: {...ALL, vocabChunk: 100}}],
  ['vocabChunk 1', {n: 17, v: 13, d: 5, seed: 15, withBias: true, options: {...ALL, vocabChunk: 1}}],
  ['vocabChunk larger than V', {n: 17, v: 13, d: 5, seed: 16, options: {...ALL, vocabChunk: 4096}}],
  ['gradFilterEps null', {n: N, v: V, d: D, seed: 17, options: {gradFilterEps: null}}],
  ['peaked softmax, gradFilterEps auto', {n: N, v: V, d: D, seed: 18, scale: 8, withBias: true}],
  ['peaked softmax, gradFilterEps 1e-6 with all options',
   {n: N, v: V, d: D, seed: 19, scale: 8, options: {...ALL, softcap: 30, gradFilterEps: 1e-6}}],
];

const SHAPE_CASES: Array<[string, Case]> = [
  ['N=1, V=1, D=1', {n: 1, v: 1, d: 1, seed: 21}],
  ['V=1', {n: 9, v: 1, d: 6, seed: 22, withBias: true, options: {...ALL}}],
  ['N=1', {n: 1, v: 300, d: 17, seed: 23, withBias: true, options: {...ALL}}],
  ['D=1', {n: 33, v: 70, d: 1, seed: 24, withBias: true, options: {...ALL}}],
  ['N=1000, V=3, D=2', {n: 1000, v: 3, d: 2, seed: 25, options: {maxSup: 0.1}}],
  ['V=4099 (past one 4096 block)', {n: 5, v: 4099, d: 8, seed: 26, withBias: true, options: {...ALL}}],
];

/**
 * The whole conformance suite of linearCrossEntropy: options, shapes, the
 * second-round contract (unless `contract` is false: test/suites.ts lists
 * `describeLinearCrossEntropyContract` as a suite of its own), accumulation
 * and bad input.
 */
export function describeLinearCrossEntropyConformance(constraints: Constraints = ALL_ENVS,
                                                      {contract = true}: {contract?: boolean} = {}) {
  describeKernelAndComposite('linearCrossEntropy', [SluiceLinearCrossEntropy], constraints, env => {
    const tol = backendTolerance(env.backendName);

    for (const [name, k] of [...OPTION_CASES, ...SHAPE_CASES]) {
      it(`${name}: loss and gradients match float64 (N=${k.n}, V=${k.v}, D=${k.d})`,
         async () => checkAgainstReference(k, tol));
    }

    it('N=0 gives an empty per-token loss, 0 mean, and empty/zero gradients', async () => {
      const e = tf.zeros([0, 4]) as tf.Tensor2D, c = tf.ones([3, 4]) as tf.Tensor2D;
      const y = tf.tensor1d([], 'int32');
      expect(linearCrossEntropy(e, c, y, {reduction: 'none'}).shape).toEqual([0]);
      const [de, dc] = tf.grads((ee: tf.Tensor, cc: tf.Tensor) => linearCrossEntropy(ee, cc, y))([e, c]);
      expect(await linearCrossEntropy(e, c, y).data()).toEqual(new Float32Array([0]));
      expect(de.shape).toEqual([0, 4]);
      expectClose(await dc.data(), new Float64Array(12), 0, 'dClassifier');
    });

    it('an all-ignored batch gives 0 loss and zero gradients (mean, sum and none)', async () => {
      const {e, c, y} = build({n: 6, v: 11, d: 5, seed: 31, ignoreFraction: 1});
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor) =>
            tf.sum(linearCrossEntropy(ee, cc, y, {reduction, ...ALL}) as tf.Tensor) as tf.Scalar)([e, c]);
        expect(await value.data()).withContext(reduction).toEqual(new Float32Array([0]));
        expectClose(await grads[0].data(), new Float64Array(30), 0, `${reduction} dEmbeddings`);
        expectClose(await grads[1].data(), new Float64Array(55), 0, `${reduction} dClassifier`);
      }
    });

    it('returnLse gives every token\'s lse, and gradients flow through it', async () => {
      const k: Case = {n: 37, v: 129, d: 11, seed: 32, withBias: true, ignoreFraction: 0.3, options: {...ALL}};
      const {ref, e, c, y, b} = build(k);
      const fwd = lceReferenceForward(ref);
      const {loss, lse} = linearCrossEntropy(e, c, y, {...ALL, bias: b, returnLse: true});
      expect(lse.shape).toEqual([k.n]);
      expectClose(await lse.data(), fwd.lse, tol, 'lse');
      expectClose(await loss.data(), [lceReferenceReduce(ref, fwd.losses, 'mean')], tol, 'loss');
      // d/dθ (loss + 0.3 Σ lse²): lse's upstream gradient is 0.6·lse per token.
      const [de, dc, db] = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => {
        const r = linearCrossEntropy(ee, cc, y, {...ALL, bias: bb, returnLse: true});
        return tf.add(r.loss, tf.mul(0.3, tf.sum(tf.square(r.lse)))) as tf.Scalar;
      })([e, c, b!]);
      const kept = Array.from(ref.labels).filter(l => l !== -100).length;
      const expected = lceReferenceBackward(ref, fwd, new Float64Array(k.n).fill(1 / kept),
                                            fwd.lse.map(l => 0.6 * l));
      expectClose(await de.data(), expected.dEmbeddings, tol, 'dEmbeddings');
      expectClose(await dc.data(), expected.dClassifier, tol, 'dClassifier');
      expectClose(await db.data(), expected.dBias, tol, 'dBias');
    });

    it('gradients agree with central finite differences of the op itself', async () => {
      const k: Case = {n: 3, v: 7, d: 4, seed: 33, withBias: true, options: {...ALL, softcap: 3}};
      const {e, c, y, b} = build(k);
      const f = (ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) =>
          linearCrossEntropy(ee, cc, y, {...ALL, softcap: 3, bias: bb, reduction: 'sum'});
      const analytic = tf.grads(f)([e, c, b!]);
      const inputs: tf.Tensor[] = [e, c, b!];
      const h = 1e-2;
      for (let which = 0; which < 3; ++which) {
        // Async reads: webgpu's dataSync needs OffscreenCanvas, which Node (Dawn) lacks.
        const base = await inputs[which].data();
        const numeric = new Float64Array(base.length);
        for (let i = 0; i < base.length; ++i) {
          const at = async (delta: number) => {
            const loss = tf.tidy(() => {
              const moved = Float32Array.from(base);
              moved[i] += delta;
              const args = inputs.slice();
              args[which] = tf.tensor(moved, inputs[which].shape);
              return f(args[0], args[1], args[2]);
            });
            const value = (await loss.data())[0];
            loss.dispose();
            return value;
          };
          numeric[i] = (await at(h) - await at(-h)) / (2 * h);
        }
        expectClose(await analytic[which].data(), numeric, 2e-2, `input ${which} vs finite differences`);
      }
    });

    it('works with tf.train optimizers: Adam lowers the loss', async () => {
      const {e, c, y} = build({n: 64, v: 97, d: 8, seed: 34, ignoreFraction: 0.1});
      const cv = tf.variable(c);
      const opt = tf.train.adam(0.1);
      const lossOf = () => linearCrossEntropy(e, cv, y, {labelSmoothing: 0.05});
      const first = (await lossOf().data())[0];
      for (let step = 0; step < 30; ++step) {
        tf.dispose(opt.minimize(lossOf, true) ?? []);
      }
      const last = (await lossOf().data())[0];
      expect(last).toBeLessThan(first * 0.8);
      opt.dispose();
    });

    it('leaks no tensors in forward, backward or on error', async () => {
      const {e, c, y, b} = build({n: 20, v: 33, d: 7, seed: 35, withBias: true, ignoreFraction: 0.2});
      const before = tf.memory().numTensors;
      for (const returnLse of [false, true]) {
        const out = linearCrossEntropy(e, c, y, {bias: b, ...ALL, returnLse});
        tf.dispose(out as tf.TensorContainer);
      }
      const g = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => linearCrossEntropy(ee, cc, y, {bias: bb, ...ALL}))(
          [e, c, b!]);
      tf.dispose(g);
      expect(() => linearCrossEntropy(e, c, tf.tensor1d([1], 'int32'))).toThrowError();
      expect(tf.memory().numTensors).toBe(before + 1);  // the tensor1d made for the bad call
    });
  });

  if (contract) describeLinearCrossEntropyContract(constraints);
  describeLinearCrossEntropyAccumulation(constraints);

  describeWithFlags('linearCrossEntropy bad input', constraints, () => {
    type Inputs = Record<'e'|'c'|'y'|'e1'|'eInt'|'c52'|'c03'|'y2'|'yFloat'|'yOut'|'yNeg'|'b4'|'w4'|'wInt'|'e3'|'e213', tf.Tensor>;
    const makeInputs = (): Inputs => ({
      e: tf.zeros([4, 3]), c: tf.zeros([5, 3]), y: tf.tensor1d([0, 1, 2, 4], 'int32'),
      e1: tf.zeros([4]), eInt: tf.zeros([4, 3], 'int32'), c52: tf.zeros([5, 2]), c03: tf.zeros([0, 3]),
      y2: tf.tensor1d([0, 1], 'int32'), yFloat: tf.tensor1d([0, 1, 2, 3]),
      yOut: tf.tensor1d([0, 1, 5, 2], 'int32'), yNeg: tf.tensor1d([0, -1, 2, 2], 'int32'), b4: tf.zeros([4]),
      w4: tf.ones([4]), wInt: tf.ones([5], 'int32'), e3: tf.zeros([2, 2, 3]), e213: tf.zeros([2, 1, 3]),
    });
    const lce = (t: Inputs, o?: LinearCrossEntropyOptions) => linearCrossEntropy(t.e, t.c, t.y, o);
    const cases: Array<[string, (t: Inputs) => unknown, RegExp]> = [
      ['embeddings rank', t => linearCrossEntropy(t.e1, t.c, t.y),
       /linearCrossEntropy: embeddings must be of rank >= 2 \[\.\.\., D\], got rank 1/],
      ['embeddings dtype', t => linearCrossEntropy(t.eInt, t.c, t.y), /embeddings must be of dtype float32, got int32/],
      ['embeddings a string', t => linearCrossEntropy('e' as unknown as tf.Tensor, t.c, t.y),
       /embeddings must be a tf.Tensor or TensorLike \[\.\.\., D\], got string/],
      ['embeddings holding strings', t => linearCrossEntropy([['a']] as unknown as tf.Tensor, t.c, t.y),
       /embeddings\[0\]\[0\] must be a number, got "a"/],
      ['D mismatch', t => linearCrossEntropy(t.e, t.c52, t.y),
       /classifier must be of shape \[V, 3\] \(D from embeddings, classifierLayout 'vd'\), got shape \[5,2\]/],
      ['D mismatch in layout dv', t => lce(t, {classifierLayout: 'dv'}),
       /classifier must be of shape \[3, V\] \(D from embeddings, classifierLayout 'dv'\), got shape \[5,3\]/],
      ['V = 0', t => linearCrossEntropy(t.e, t.c03, t.y), /V >= 1/],
      ['labels length', t => linearCrossEntropy(t.e, t.c, t.y2),
       /labels must be of shape \[4\] \(the leading shape of embeddings \[4,3\]\), got shape \[2\]/],
      ['labels of another leading shape', t => linearCrossEntropy(t.e3, t.c, t.y),
       /labels must be of shape \[2,2\] \(the leading shape of embeddings \[2,2,3\]\), got shape \[4\]/],
      ['labels float', t => linearCrossEntropy(t.e, t.c, t.yFloat), /labels must be of dtype int32, got float32/],
      ['labels fractional TensorLike', t => linearCrossEntropy(t.e, t.c, [0, 1.5, 2, 3]),
       /labels\[1\] must be an int32 integer, got 1.5/],
      ['label out of range', t => linearCrossEntropy(t.e, t.c, t.yOut),
       /labels\[2\] must be in \[0, 5\) or equal to ignoreIndex \(-100\), got 5/],
      ['label out of range, rank 2', t => linearCrossEntropy(t.e3, t.c, [[0, 1], [7, 2]]),
       /labels\[1\]\[0\] must be in \[0, 5\) or equal to ignoreIndex \(-100\), got 7/],
      ['negative label', t => linearCrossEntropy(t.e, t.c, t.yNeg), /labels\[1\] must be .* got -1/],
      ['bias shape', t => lce(t, {bias: t.b4}),
       /options.bias must be of shape \[5\] \(V from classifier\), got shape \[4\]/],
      ['classWeights shape', t => lce(t, {classWeights: t.w4}),
       /options.classWeights must be of shape \[5\] \(V from classifier\), got shape \[4\]/],
      ['classWeights negative', t => lce(t, {classWeights: [1, 1, -0.5, 1, 1]}),
       /options.classWeights\[2\] must be finite and >= 0, got -0.5/],
      ['classWeights Infinity', t => lce(t, {classWeights: [1, 1, 1, 1, Infinity]}),
       /options.classWeights\[4\] must be finite and >= 0, got Infinity/],
      ['classWeights int32', t => lce(t, {classWeights: t.wInt}),
       /options.classWeights must be of dtype float32, got int32/],
      ['classifierLayout unknown', t => lce(t, {classifierLayout: 'VD' as 'vd'}),
       /options.classifierLayout must be one of 'vd', 'dv', got "VD"/],
      ['shift with rank-2 hidden states', t => lce(t, {shift: true}),
       /options.shift must be used with embeddings of rank >= 3 \[B, T, D\], got rank 2 embeddings/],
      ['shift with T = 1', t => linearCrossEntropy(t.e213, t.c, [[0], [1]], {shift: true}),
       /options.shift must be used with T >= 2 .*, got T = 1/],
      ['shift not a boolean', t => lce(t, {shift: 1 as unknown as boolean}), /options.shift must be a boolean, got 1/],
      ['returnEntropy not a boolean', t => lce(t, {returnEntropy: 'yes' as unknown as boolean}),
       /options.returnEntropy must be a boolean, got "yes"/],
      ['softcap negative', t => lce(t, {softcap: -1}), /options.softcap must be >= 0, got -1/],
      ['softcap NaN', t => lce(t, {softcap: NaN}), /options.softcap must be a finite number/],
      ['labelSmoothing > 1', t => lce(t, {labelSmoothing: 1.5}), /options.labelSmoothing must be in \[0, 1\], got 1.5/],
      ['zLoss negative', t => lce(t, {zLoss: -0.1}), /options.zLoss must be >= 0/],
      ['maxSup Infinity', t => lce(t, {maxSup: Infinity}), /options.maxSup must be a finite number, got Infinity/],
      ['reduction unknown', t => lce(t, {reduction: 'avg' as 'mean'}),
       /options.reduction must be one of 'mean', 'sum', 'none', got "avg"/],
      ['reduction not a tf.Reduction', t => lce(t, {reduction: 7 as tf.Reduction}),
       /options.reduction must be one of 'mean', 'sum', 'none' or a tf.Reduction value \(0 to 3\), got 7/],
      ['ignoreIndex fractional', t => lce(t, {ignoreIndex: 1.5}), /options.ignoreIndex must be an integer, got 1.5/],
      ['vocabChunk 0', t => lce(t, {vocabChunk: 0}), /options.vocabChunk must be an integer >= 1, got 0/],
      ['gradFilterEps negative', t => lce(t, {gradFilterEps: -1}), /options.gradFilterEps must be in \[0, 1\]/],
      ['unknown option', t => lce(t, {label_smoothing: 0.1} as LinearCrossEntropyOptions),
       /options.label_smoothing must be one of the known options/],
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
