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
import {lceReferenceBackward, lceReferenceForward, lceReferenceReduce, LceRefInput} from '../reference/linear_cross_entropy_ref';

import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {randomLabels, seededRandom, uniformArray} from './random';

type RefOptions = Pick<LceRefInput, 'ignoreIndex'|'softcap'|'labelSmoothing'|'zLoss'|'maxSup'>;

interface Case {
  n: number; v: number; d: number;
  seed: number;
  withBias?: boolean;
  ignoreFraction?: number;
  scale?: number;  // multiplies embeddings: larger = more peaked softmax
  options?: RefOptions&Omit<LinearCrossEntropyOptions, 'bias'|'returnLse'>;
}

interface Built {
  ref: LceRefInput;
  e: tf.Tensor2D; c: tf.Tensor2D; y: tf.Tensor1D; b?: tf.Tensor1D;
}

function build(k: Case): Built {
  const rand = seededRandom(k.seed);
  const ignoreIndex = k.options?.ignoreIndex ?? -100;
  const embeddings = uniformArray(rand, k.n * k.d).map(x => x * (k.scale ?? 1));
  const classifier = uniformArray(rand, k.v * k.d);
  const labels = randomLabels(rand, k.n, k.v, ignoreIndex, k.ignoreFraction ?? 0);
  const bias = k.withBias ? uniformArray(rand, k.v, -2, 2) : undefined;
  const ref: LceRefInput = {n: k.n, d: k.d, v: k.v, embeddings, classifier, labels, bias, ...k.options};
  return {
    ref,
    e: tf.tensor2d(embeddings, [k.n, k.d]),
    c: tf.tensor2d(classifier, [k.v, k.d]),
    y: tf.tensor1d(labels, 'int32'),
    b: bias ? tf.tensor1d(bias) : undefined,
  };
}

function opOptions(k: Case, b?: tf.Tensor1D): LinearCrossEntropyOptions&{returnLse?: false} {
  return {...k.options, ...(b ? {bias: b} : {})} as LinearCrossEntropyOptions&{returnLse?: false};
}

/** Loss (reduced as the case says), its gradients, and the reference's. */
async function checkAgainstReference(k: Case, tol: number) {
  const {ref, e, c, y, b} = build(k);
  const reduction = k.options?.reduction ?? 'mean';
  const fwd = lceReferenceForward(ref);
  // 'none' is checked through a weighted sum so every token gets its own upstream gradient.
  const weights = uniformArray(seededRandom(k.seed + 1), k.n, 0.5, 1.5);
  const w = tf.tensor1d(weights);
  const f = (ee: tf.Tensor, cc: tf.Tensor, bb?: tf.Tensor) => {
    const loss = linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y,
                                    {...opOptions(k, bb as tf.Tensor1D|undefined)});
    return reduction === 'none' ? tf.sum(tf.mul(loss, w)) : loss as tf.Scalar;
  };
  const xs = b ? [e, c, b] : [e, c];
  const {value, grads} = tf.valueAndGrads((...args: tf.Tensor[]) => f(args[0], args[1], args[2]) as tf.Scalar)(xs);

  let expectedLoss: number;
  let dLosses: Float64Array;
  if (reduction === 'none') {
    expectedLoss = fwd.losses.reduce((acc, l, i) => acc + l * weights[i], 0);
    dLosses = Float64Array.from(weights);
  } else {
    expectedLoss = lceReferenceReduce(ref, fwd.losses, reduction);
    const kept = Array.from(ref.labels).filter(l => l !== (ref.ignoreIndex ?? -100)).length;
    dLosses = new Float64Array(k.n).fill(reduction === 'sum' ? 1 : 1 / Math.max(kept, 1));
  }
  const expected = lceReferenceBackward(ref, fwd, dLosses);
  expectClose(await value.data(), [expectedLoss], tol, 'loss');
  expectClose(await grads[0].data(), expected.dEmbeddings, tol, 'dEmbeddings');
  expectClose(await grads[1].data(), expected.dClassifier, tol, 'dClassifier');
  if (b) {
    expectClose(await grads[2].data(), expected.dBias, tol, 'dBias');
  }
  if (reduction === 'none') {
    const perToken = linearCrossEntropy(e, c, y, {...opOptions(k, b)});
    expect(perToken.shape).toEqual([k.n]);
    expectClose(await perToken.data(), fwd.losses, tol, 'per-token losses');
  }
}

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

export function describeLinearCrossEntropyConformance(constraints: Constraints = ALL_ENVS) {
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
      const [de, dc] = tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
                                    linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y) as tf.Scalar)([e, c]);
      expect(await linearCrossEntropy(e, c, y).data()).toEqual(new Float32Array([0]));
      expect(de.shape).toEqual([0, 4]);
      expectClose(await dc.data(), new Float64Array(12), 0, 'dClassifier');
    });

    it('an all-ignored batch gives 0 loss and zero gradients (mean, sum and none)', async () => {
      const {e, c, y} = build({n: 6, v: 11, d: 5, seed: 31, ignoreFraction: 1});
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor) =>
            tf.sum(linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, {reduction, ...ALL})) as tf.Scalar)(
            [e, c]);
        expect(await value.data()).withContext(reduction).toEqual(new Float32Array([0]));
        expectClose(await grads[0].data(), new Float64Array(30), 0, `${reduction} dEmbeddings`);
        expectClose(await grads[1].data(), new Float64Array(55), 0, `${reduction} dClassifier`);
      }
    });

    it('returnLse gives every token\'s lse, and gradients flow through it', async () => {
      const k: Case = {n: 37, v: 129, d: 11, seed: 32, withBias: true, ignoreFraction: 0.3, options: {...ALL}};
      const {ref, e, c, y, b} = build(k);
      const fwd = lceReferenceForward(ref);
      const {loss, lse} = linearCrossEntropy(e, c, y, {...k.options, bias: b, returnLse: true});
      expect(lse.shape).toEqual([k.n]);
      expectClose(await lse.data(), fwd.lse, tol, 'lse');
      expectClose(await loss.data(), [lceReferenceReduce(ref, fwd.losses, 'mean')], tol, 'loss');
      // d/dθ (loss + 0.3 Σ lse²): lse's upstream gradient is 0.6·lse per token.
      const [de, dc, db] = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => {
        const r = linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y,
                                     {...k.options, bias: bb as tf.Tensor1D, returnLse: true});
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
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, {...k.options, bias: bb as tf.Tensor1D,
                                                                        reduction: 'sum'}) as tf.Scalar;
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
      const lossOf = () => linearCrossEntropy(e, cv as tf.Tensor2D, y, {labelSmoothing: 0.05}) as tf.Scalar;
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
        tf.dispose(out as tf.Tensor);
        tf.dispose(out as unknown as tf.TensorContainer);
      }
      const g = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) =>
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, {bias: bb as tf.Tensor1D, ...ALL}) as
              tf.Scalar)([e, c, b!]);
      tf.dispose(g);
      expect(() => linearCrossEntropy(e, c, tf.tensor1d([1], 'int32'))).toThrowError();
      expect(tf.memory().numTensors).toBe(before + 1);  // the tensor1d made for the bad call
    });
  });

  describeWithFlags('linearCrossEntropy bad input', constraints, () => {
    type Inputs = Record<'e'|'c'|'y'|'e1'|'eInt'|'c52'|'c03'|'y2'|'yFloat'|'yOut'|'yNeg'|'b4', tf.Tensor>;
    const makeInputs = (): Inputs => ({
      e: tf.zeros([4, 3]), c: tf.zeros([5, 3]), y: tf.tensor1d([0, 1, 2, 4], 'int32'),
      e1: tf.zeros([4]), eInt: tf.zeros([4, 3], 'int32'), c52: tf.zeros([5, 2]), c03: tf.zeros([0, 3]),
      y2: tf.tensor1d([0, 1], 'int32'), yFloat: tf.tensor1d([0, 1, 2, 3]),
      yOut: tf.tensor1d([0, 1, 5, 2], 'int32'), yNeg: tf.tensor1d([0, -1, 2, 2], 'int32'), b4: tf.zeros([4]),
    });
    type T2 = tf.Tensor2D;
    type T1 = tf.Tensor1D;
    const lce = (t: Inputs, o?: LinearCrossEntropyOptions) => linearCrossEntropy(t.e as T2, t.c as T2, t.y as T1, o);
    const cases: Array<[string, (t: Inputs) => unknown, RegExp]> = [
      ['embeddings rank', t => linearCrossEntropy(t.e1 as T2, t.c as T2, t.y as T1),
       /linearCrossEntropy: embeddings must be rank 2 \[N, D\], got rank 1/],
      ['embeddings dtype', t => linearCrossEntropy(t.eInt as T2, t.c as T2, t.y as T1),
       /embeddings must be of dtype float32, got int32/],
      ['embeddings not a tensor', t => linearCrossEntropy([[1]] as unknown as T2, t.c as T2, t.y as T1),
       /embeddings must be a tf.Tensor/],
      ['D mismatch', t => linearCrossEntropy(t.e as T2, t.c52 as T2, t.y as T1),
       /classifier must be of shape \[V, 3\] \(D from embeddings\), got shape \[5,2\]/],
      ['V = 0', t => linearCrossEntropy(t.e as T2, t.c03 as T2, t.y as T1), /V >= 1/],
      ['labels length', t => linearCrossEntropy(t.e as T2, t.c as T2, t.y2 as T1),
       /labels must be of shape \[4\] \(N from embeddings\), got shape \[2\]/],
      ['labels float', t => linearCrossEntropy(t.e as T2, t.c as T2, t.yFloat as T1),
       /labels must be of dtype int32, got float32/],
      ['label out of range', t => linearCrossEntropy(t.e as T2, t.c as T2, t.yOut as T1),
       /labels\[2\] must be in \[0, 5\) or equal to ignoreIndex \(-100\), got 5/],
      ['negative label', t => linearCrossEntropy(t.e as T2, t.c as T2, t.yNeg as T1), /labels\[1\] must be .* got -1/],
      ['bias shape', t => lce(t, {bias: t.b4 as T1}),
       /options.bias must be of shape \[5\] \(V from classifier\), got shape \[4\]/],
      ['softcap negative', t => lce(t, {softcap: -1}), /options.softcap must be >= 0, got -1/],
      ['softcap NaN', t => lce(t, {softcap: NaN}), /options.softcap must be a finite number/],
      ['labelSmoothing > 1', t => lce(t, {labelSmoothing: 1.5}), /options.labelSmoothing must be in \[0, 1\], got 1.5/],
      ['zLoss negative', t => lce(t, {zLoss: -0.1}), /options.zLoss must be >= 0/],
      ['maxSup Infinity', t => lce(t, {maxSup: Infinity}), /options.maxSup must be a finite number, got Infinity/],
      ['reduction unknown', t => lce(t, {reduction: 'avg' as 'mean'}),
       /options.reduction must be one of 'mean', 'sum', 'none', got "avg"/],
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
