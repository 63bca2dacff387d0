/**
 * The second-round contract of linearCrossEntropy (issues 14.1 and 18), run
 * by every backend through its kernels and through the composite: masked
 * classes (padded vocabularies) with smoothing, z-loss and maxSup giving the
 * unpadded vocabulary's results, classWeights (checked against PyTorch's own
 * numbers), the 'dv' classifier layout, shift, hidden states of rank 3 and
 * 4, tf.Reduction values, TensorLike inputs, every returned extra, the
 * kernel's outputs (entropy, first-max argmax, NaN rows for out-of-range
 * labels), and gradients that need no stock-op gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {runKernelOrComposite} from '../internal';
import {SluiceLinearCrossEntropy} from '../kernel_names';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import type {LinearCrossEntropyOptions} from '../ops/linear_cross_entropy_options';
import {lceReferenceBackward, lceReferenceForward, lceReferenceMeanDivisor, lceReferenceReduce,
        lceReferenceReductionGradient, LceRefInput} from '../reference/linear_cross_entropy_ref';
import {TORCH_LCE_FIXTURE} from '../reference/torch_lce_fixture';

import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {build, Case, checkAgainstReference, confidentTokens, opOptions, perTokenExpected, perTokenUpstream, product,
        RefOptions} from './linear_cross_entropy_cases';
import {lceKernelAttrs} from './linear_cross_entropy_kernel_checks';
import {withoutStockGradients} from './no_stock_gradients';
import {seededRandom, uniformArray} from './random';

const N = 252, D = 37;
const ALL: RefOptions = {softcap: 6, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.15};
const NO_CAP: RefOptions = {labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.15};
// A vocabulary of 381 padded to 384 (a multiple of 128), as models pad theirs.
const PADDED: Pick<Case, 'v'|'masked'> = {v: 384, masked: [[381, 384]]};

const CONTRACT_CASES: Array<[string, Case]> = [
  ['padded vocabulary (−Inf bias tail)', {n: N, d: D, seed: 101, ...PADDED}],
  ['padded vocabulary, smoothing, z-loss, maxSup, softcap',
   {n: N, d: D, seed: 102, ...PADDED, ignoreFraction: 0.2, options: {...ALL}}],
  ['padded vocabulary, smoothing, z-loss, maxSup without softcap, reduction none',
   {n: N, d: D, seed: 103, ...PADDED, ignoreFraction: 0.2, options: {...NO_CAP, reduction: 'none'}}],
  ['masked classes inside the vocabulary and a whole masked block (vocabChunk 64)',
   {n: 70, v: 300, d: 9, seed: 104, masked: [[0, 3], [64, 200], [299, 300]], options: {...ALL, vocabChunk: 64}}],
  ['masked classes, vocabChunk 64, no softcap',
   {n: 70, v: 300, d: 9, seed: 105, masked: [[10, 140]], options: {...NO_CAP, vocabChunk: 64}}],
  ['classWeights', {n: N, v: 207, d: D, seed: 106, classWeights: true, withBias: true, ignoreFraction: 0.2}],
  ['classWeights with label smoothing 0.1', {n: N, v: 207, d: D, seed: 107, classWeights: true,
                                              options: {labelSmoothing: 0.1}}],
  ['classWeights with every option, reduction sum', {n: N, v: 207, d: D, seed: 108, classWeights: true, withBias: true,
                                                     ignoreFraction: 0.1, options: {...ALL, reduction: 'sum'}}],
  ['classWeights with every option, reduction none', {n: N, v: 207, d: D, seed: 109, classWeights: true,
                                                      ignoreFraction: 0.1, options: {...NO_CAP, reduction: 'none'}}],
  ['classWeights on a padded vocabulary with every option', {n: N, d: D, seed: 110, ...PADDED, classWeights: true,
                                                             ignoreFraction: 0.1, options: {...ALL}}],
  ["classifierLayout 'dv'", {n: N, v: 207, d: D, seed: 111, layout: 'dv'}],
  ["classifierLayout 'dv' with bias and every option", {n: N, v: 207, d: D, seed: 112, layout: 'dv', withBias: true,
                                                        ignoreFraction: 0.2, options: {...ALL}}],
  ["classifierLayout 'dv', padded, classWeights, reduction none, vocabChunk 100",
   {n: N, d: D, seed: 113, ...PADDED, layout: 'dv', classWeights: true, options: {...NO_CAP, reduction: 'none',
                                                                                   vocabChunk: 100}}],
  ['hidden states of rank 3 [B, T, D]', {n: N, v: 207, d: D, seed: 114, leading: [4, 63], withBias: true,
                                         ignoreFraction: 0.1, options: {...ALL}}],
  ['hidden states of rank 3, reduction none', {n: N, v: 207, d: D, seed: 115, leading: [4, 63], ignoreFraction: 0.1,
                                               options: {...NO_CAP, reduction: 'none'}}],
  ['hidden states of rank 4, reduction none', {n: N, v: 207, d: D, seed: 116, leading: [2, 3, 42], classWeights: true,
                                               options: {...ALL, reduction: 'none'}}],
  ['shift (position t predicts label t + 1)', {n: N, v: 207, d: D, seed: 117, leading: [4, 63], shift: true,
                                               withBias: true, ignoreFraction: 0.1, options: {...ALL}}],
  ['shift, reduction none', {n: N, v: 207, d: D, seed: 118, leading: [4, 63], shift: true,
                             options: {...NO_CAP, reduction: 'none'}}],
  ['shift on rank 4, padded, classWeights, reduction sum',
   {n: N, d: D, seed: 119, ...PADDED, leading: [2, 3, 42], shift: true, classWeights: true,
    options: {...ALL, reduction: 'sum'}}],
  ['shift with T = 2', {n: 10, v: 31, d: 4, seed: 120, leading: [5, 2], shift: true, options: {...ALL}}],
  ['tf.Reduction.MEAN', {n: 60, v: 41, d: 6, seed: 121, ignoreFraction: 0.2, options: {reduction: tf.Reduction.MEAN}}],
  ['tf.Reduction.SUM_BY_NONZERO_WEIGHTS (the mean over kept tokens)',
   {n: 60, v: 41, d: 6, seed: 122, ignoreFraction: 0.2, classWeights: true,
    options: {reduction: tf.Reduction.SUM_BY_NONZERO_WEIGHTS}}],
  ['tf.Reduction.SUM', {n: 60, v: 41, d: 6, seed: 123, options: {...ALL, reduction: tf.Reduction.SUM}}],
  ['tf.Reduction.NONE', {n: 60, v: 41, d: 6, seed: 124, leading: [6, 10], options: {reduction: tf.Reduction.NONE}}],
];

/** Whether the top two float64 logits of every token are further apart than `gap` (argmax is then float32-stable). */
function argmaxIsStable(logits: Float64Array, n: number, v: number, gap: number): boolean {
  for (let i = 0; i < n; ++i) {
    const row = Array.from(logits.subarray(i * v, (i + 1) * v)).sort((a, b) => b - a);
    if (v > 1 && row[0] - row[1] < gap) return false;
  }
  return true;
}

export function describeLinearCrossEntropyContract(constraints: Constraints = ALL_ENVS) {
  describeKernelAndComposite('linearCrossEntropy second-round contract', [SluiceLinearCrossEntropy], constraints,
                             (env, forceComposite) => {
    const tol = backendTolerance(env.backendName);

    for (const [name, k] of CONTRACT_CASES) {
      it(`${name}: loss and gradients match float64 (N=${k.n}, V=${k.v}, D=${k.d})`,
         async () => {
           await checkAgainstReference(k, tol);
         });
    }

    for (const [name, options, layout, weighted] of [
             ['smoothing, z-loss, maxSup, softcap', ALL, 'vd', false],
             ['smoothing, z-loss, maxSup, no softcap', NO_CAP, 'vd', false],
             ["every option, classWeights, 'dv'", ALL, 'dv', true],
    ] as Array<[string, RefOptions, 'vd'|'dv', boolean]>) {
      it(`a padded vocabulary gives the unpadded vocabulary's results (${name})`, async () => {
        // V = 250 padded with 6 classes, 250 and 256 both split by the kernels' blocks differently.
        const v = 250, pad = 6, n = 41, d = 13;
        const base: Case = {n, v, d, seed: 130, withBias: true, classWeights: weighted, ignoreFraction: 0.2,
                            layout, options};
        const small = build(base);
        const rand = seededRandom(131);
        const extraRows = uniformArray(rand, pad * d, -3, 3);  // large: any leak of a masked class shows
        const cSmall = await small.c.data() as Float32Array;
        const cFull = layout === 'dv' ?
            tf.concat([small.c, tf.tensor2d(extraRows, [d, pad])], 1) :
            tf.concat([small.c, tf.tensor2d(extraRows, [pad, d])], 0);
        expect(cSmall.length).toBe(v * d);
        const bFull = tf.concat([small.b!, tf.fill([pad], -Infinity)]);
        const wFull = small.w ? tf.concat([small.w, uniformArray(rand, pad, 0.25, 2)]) : undefined;
        const run = (c: tf.Tensor, b: tf.Tensor, w: tf.Tensor|undefined) => {
          const o: LinearCrossEntropyOptions = {...options, classifierLayout: layout, reduction: 'none',
                                                ...(w ? {classWeights: w} : {})};
          const upstream = tf.tensor1d(uniformArray(seededRandom(132), n, 0.5, 1.5));
          const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) =>
              tf.sum(tf.mul(linearCrossEntropy(ee, cc, small.y, {...o, bias: bb}) as tf.Tensor, upstream)) as tf.Scalar)(
              [small.e, c, b]);
          const extras = linearCrossEntropy(small.e, c, small.y, {
            ...o, bias: b, returnLse: true, returnZLoss: true, returnPredictions: true, returnAccuracy: true,
            returnEntropy: true,
          });
          return {value, grads, extras};
        };
        const unpadded = run(small.c, small.b!, small.w);
        const padded = run(cFull, bFull, wFull);
        expectClose(await padded.value.data(), await unpadded.value.data(), tol, 'loss');
        expectClose(await padded.grads[0].data(), await unpadded.grads[0].data(), tol, 'dEmbeddings');
        const dC = await padded.grads[1].data();
        const dB = await padded.grads[2].data();
        const unpaddedDC = await unpadded.grads[1].data();
        const dCKept: number[] = [], dCMasked: number[] = [];
        for (let j = 0; j < v + pad; ++j) {
          for (let k = 0; k < d; ++k) {
            (j < v ? dCKept : dCMasked).push(dC[layout === 'dv' ? k * (v + pad) + j : j * d + k]);
          }
        }
        const unpaddedVD = layout === 'dv' ? Array.from({length: v * d}, (_, i) => unpaddedDC[(i % d) * v + Math.floor(i / d)]) :
                                             Array.from(unpaddedDC);
        expectClose(dCKept, unpaddedVD, tol, 'dClassifier of the unmasked classes');
        expectClose(Array.from(dB).slice(0, v), await unpadded.grads[2].data(), tol, 'dBias of the unmasked classes');
        expect(dCMasked.every(x => x === 0)).withContext(`dClassifier of masked classes: ${dCMasked}`).toBe(true);
        expect(Array.from(dB).slice(v).every(x => x === 0)).withContext('dBias of masked classes').toBe(true);
        for (const field of ['loss', 'lse', 'zLoss', 'accuracy', 'entropy'] as const) {
          expectClose(await padded.extras[field].data(), await unpadded.extras[field].data(), tol, field);
        }
        expect(Array.from(await padded.extras.predictions.data()))
            .toEqual(Array.from(await unpadded.extras.predictions.data()));
        // And both are the reference's.
        const fwd = lceReferenceForward(small.ref);
        expectClose(await unpadded.extras.loss.data(), fwd.losses, tol, 'per-token losses vs float64');
        tf.dispose([unpadded, padded, cFull, bFull, wFull, small.e, small.c, small.y, small.b, small.w] as
                   tf.TensorContainer);
      });
    }

    it('a label at a masked class gives +Inf, the other tokens stay finite', async () => {
      const k: Case = {n: 6, v: 9, d: 4, seed: 133, masked: [[7, 9]], options: {labelSmoothing: 0.1}};
      const {e, c, b} = build(k);
      const y = tf.tensor1d([0, 8, 3, -100, 7, 2], 'int32');
      const losses = await linearCrossEntropy(e, c, y, {bias: b, reduction: 'none', labelSmoothing: 0.1}).data();
      expect(Array.from(losses).map(l => Number.isFinite(l) ? 'finite' : String(l)))
          .toEqual(['finite', 'Infinity', 'finite', 'finite', 'Infinity', 'finite']);
      tf.dispose([e, c, b!, y]);
    });

    for (const [name, options] of [['no options', {}], ['smoothing, z-loss, maxSup, softcap', ALL],
                                   ['smoothing, z-loss, maxSup, no softcap', NO_CAP]] as Array<[string, RefOptions]>) {
      it(`every class masked (every bias −Inf) gives NaN lse, entropy and kept losses, argmax 0 (${name})`,
         async () => {
           const n = 5, v = 9, d = 4;
           const {e, c, y: unused} = build({n, v, d, seed: 150});
           unused.dispose();
           const labels = [0, 8, -100, 3, 7];
           const bias = new Float32Array(v).fill(-Infinity);
           const ref: LceRefInput = {n, v, d, embeddings: await e.data(), classifier: await c.data(), labels, bias,
                                     ...options};
           const fwd = lceReferenceForward(ref);
           // The reference's own reading of the contract (kernel_names.ts: log of an empty sum is NaN).
           expect(Array.from(fwd.lse).every(Number.isNaN)).withContext('reference lse').toBe(true);
           const y = tf.tensor1d(labels, 'int32'), b = tf.tensor1d(bias);
           const r = linearCrossEntropy(e, c, y, {...options, bias: b, reduction: 'none', returnLse: true,
                                                  returnEntropy: true, returnPredictions: true});
           const shown = (xs: ArrayLike<number>) => Array.from(xs, x => Number.isNaN(x) ? 'NaN' : x);
           expect(shown(await r.loss.data())).withContext('losses (token 2 ignored)')
               .toEqual(shown(fwd.losses));
           expect(shown(await r.loss.data())).toEqual(['NaN', 'NaN', 0, 'NaN', 'NaN']);
           expect(shown(await r.lse.data())).withContext('lse').toEqual(new Array(n).fill('NaN'));
           expect(shown(await r.entropy.data())).withContext('entropy').toEqual(new Array(n).fill('NaN'));
           expect(Array.from(await r.predictions.data())).withContext('argmax').toEqual(Array.from(fwd.argmax));
           const mean = linearCrossEntropy(e, c, y, {...options, bias: b});
           expect(Number.isNaN((await mean.data())[0])).withContext('mean loss is NaN').toBe(true);
           tf.dispose([r, mean, e, c, y, b] as tf.TensorContainer);
         });
    }

    for (const softcap of [0, 30]) {
      it(`confident tokens (lse − z_y ≈ 1e-8) get a loss >= 0 that matches float64 (softcap ${softcap})`, async () => {
        // lse >= max z >= z_y exactly: a negative loss is a z_y rounded apart from what lse was built from.
        const r = {...confidentTokens(64, 7), softcap};
        const fwd = lceReferenceForward(r);
        const e = tf.tensor2d(r.embeddings, [r.n, r.d]), c = tf.tensor2d(r.classifier, [r.v, r.d]);
        const y = tf.tensor1d(r.labels, 'int32');
        for (const labelSmoothing of [0, 0.1]) {
          const losses = linearCrossEntropy(e, c, y, {softcap, labelSmoothing, reduction: 'none'});
          const values = await losses.data();
          const expected = labelSmoothing === 0 ? fwd.losses :
                                                  lceReferenceForward({...r, labelSmoothing}).losses;
          if (labelSmoothing === 0) {
            const negative = Array.from(values).findIndex(l => !(l >= 0));
            expect(negative).withContext(`loss[${negative}] = ${values[negative]} should be >= 0`).toBe(-1);
          }
          expectClose(values, expected, tol, `per-token losses, labelSmoothing ${labelSmoothing}`);
          losses.dispose();
        }
        tf.dispose([e, c, y]);
      });
    }

    it('hasBias false (no bias given) and an explicit zeros bias give the same float64 values and gradients',
       async () => {
         // Without a bias the op passes zeros and hasBias false: kernels may skip the bias entirely. Checked against
         // the reference both ways, with every term that reads the bias (softcap, smoothing, maxSup, z-loss).
         for (const options of [ALL, NO_CAP]) {
           for (const layout of ['vd', 'dv'] as const) {
             const k: Case = {n: 37, v: 150, d: 7, seed: 151, layout, ignoreFraction: 0.2, classWeights: true,
                              options: {...options, vocabChunk: 64, reduction: 'sum'}};
             const built = build(k);
             const fwd = lceReferenceForward(built.ref);
             const expected = lceReferenceBackward(built.ref, fwd, lceReferenceReductionGradient(built.ref, 'sum'));
             const zeros = tf.zeros([k.v]);
             const what = `${options === ALL ? 'softcap' : 'no softcap'}, '${layout}'`;
             for (const withZeros of [false, true]) {
               const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor, bb?: tf.Tensor) =>
                   linearCrossEntropy(ee, cc, built.y, opOptions(k, built, bb)) as tf.Scalar)(
                   withZeros ? [built.e, built.c, zeros] : [built.e, built.c]);
               const how = `${what}, ${withZeros ? 'explicit zeros bias' : 'no bias'}`;
               expectClose(await value.data(), [lceReferenceReduce(built.ref, fwd.losses, 'sum')], tol, `${how}: loss`);
               expectClose(await grads[0].data(), expected.dEmbeddings, tol, `${how}: dEmbeddings`);
               expectClose(await grads[1].data(), expected.dClassifier, tol, `${how}: dClassifier`);
               if (withZeros) expectClose(await grads[2].data(), expected.dBias, tol, `${how}: dBias`);
               tf.dispose([value, ...grads]);
             }
             tf.dispose([zeros, built.e, built.c, built.y, built.w!]);
           }
         }
       });

    it('with hasBias false the kernel reads its zeros bias input or not, and its gradients stay exact', async () => {
      const k: Case = {n: 20, v: 70, d: 5, seed: 152, options: {...ALL}};
      const {ref, e, c, y} = build(k);
      const fwd = lceReferenceForward(ref);
      const zeros = tf.zeros([k.v]), ones = tf.ones([k.v]);
      const attrs = lceKernelAttrs({...ALL, hasBias: false, gradFilterEps: 0});
      const [de, dc, db] = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => tf.sum(
          runKernelOrComposite(SluiceLinearCrossEntropy, {embeddings: ee, classifier: cc, labels: y, bias: bb,
                                                          classWeights: ones}, attrs)[0]) as tf.Scalar)([e, c, zeros]);
      const expected = lceReferenceBackward(ref, fwd, new Float64Array(k.n).fill(1));
      expectClose(await de.data(), expected.dEmbeddings, tol, 'dEmbeddings');
      expectClose(await dc.data(), expected.dClassifier, tol, 'dClassifier');
      expect(db.shape).toEqual([k.v]);
      // The op discards this dBias (kernel_names.ts): cpu, tensorflow and the composite skip it and return zeros;
      // another kernel may instead return the true gradient at the zeros bias, or none (the gradient is then zeros).
      const dBias = await db.data();
      const allZero = Array.from(dBias).every(x => x === 0);
      if (forceComposite || env.backendName === 'cpu' || env.backendName === 'tensorflow') {
        expect(allZero).withContext('dBias with hasBias false').toBe(true);
      } else if (!allZero) {
        expectClose(dBias, expected.dBias, tol, 'dBias at the zeros bias');
      }
      tf.dispose([de, dc, db, e, c, y, zeros, ones]);
    });

    if (forceComposite) {
      it('the composite rejects V > 2^24 (its argmax rides as float32) with a clear error', () => {
        // D = 0 keeps the tensors empty: the check comes before anything is computed.
        const v = (1 << 24) + 1;
        const inputs = {embeddings: tf.zeros([1, 0]), classifier: tf.zeros([v, 0]), labels: tf.tensor1d([0], 'int32')};
        const before = tf.memory().numTensors;
        expect(() => runKernelOrComposite(SluiceLinearCrossEntropy, inputs, lceKernelAttrs()))
            .toThrowError(/linearCrossEntropy: classifier must be of shape \[V, D\] with V <= 16777216 \(2\^24\) on the composite path.*, got shape \[16777217,0\]/);
        expect(tf.memory().numTensors).withContext('tensors left behind').toBe(before);
        tf.dispose(Object.values(inputs));
      });
    }

    it('classWeights: the reference and the op reproduce torch.nn.functional.linear_cross_entropy', async () => {
      const f = TORCH_LCE_FIXTURE;
      const e = tf.tensor2d(f.embeddings, [f.n, f.d]), c = tf.tensor2d(f.classifier, [f.v, f.d]);
      const y = tf.tensor1d(f.labels, 'int32'), b = tf.tensor1d(f.bias), w = tf.tensor1d(f.classWeights);
      const up = tf.tensor1d(f.noneWeights);
      for (const t of f.cases) {
        const ref: LceRefInput = {n: f.n, v: f.v, d: f.d, embeddings: f.embeddings, classifier: f.classifier,
                                  labels: f.labels, bias: t.bias ? f.bias : undefined,
                                  classWeights: t.weights ? f.classWeights : undefined, labelSmoothing: t.ls};
        const reduction = t.reduction as 'mean'|'sum'|'none';
        const fwd = lceReferenceForward(ref);
        const refLoss = reduction === 'none' ? fwd.losses : [lceReferenceReduce(ref, fwd.losses, reduction)];
        const refGrads = lceReferenceBackward(
            ref, fwd, reduction === 'none' ? f.noneWeights : lceReferenceReductionGradient(ref, reduction));
        // float64 against float64: agreement to rounding.
        expectClose(refLoss, t.loss, 1e-12, `${t.name}: reference loss vs torch`);
        expectClose(refGrads.dEmbeddings, t.dEmbeddings, 1e-12, `${t.name}: reference dEmbeddings vs torch`);
        expectClose(refGrads.dClassifier, t.dClassifier, 1e-12, `${t.name}: reference dClassifier vs torch`);
        if (t.bias) expectClose(refGrads.dBias, t.dBias, 1e-12, `${t.name}: reference dBias vs torch`);

        const options: LinearCrossEntropyOptions = {labelSmoothing: t.ls, reduction, ...(t.weights ? {classWeights: w} : {})};
        const {value, grads} = tf.valueAndGrads((...xs: tf.Tensor[]) => {
          const loss = linearCrossEntropy(xs[0], xs[1], y, {...options, ...(t.bias ? {bias: xs[2]} : {})}) as tf.Tensor;
          return (reduction === 'none' ? tf.sum(tf.mul(loss, up)) : loss) as tf.Scalar;
        })(t.bias ? [e, c, b] : [e, c]);
        const expectedValue = reduction === 'none' ? t.loss.reduce((a, l, i) => a + l * f.noneWeights[i], 0) : t.loss[0];
        expectClose(await value.data(), [expectedValue], tol, `${t.name}: op loss vs torch`);
        expectClose(await grads[0].data(), t.dEmbeddings, tol, `${t.name}: op dEmbeddings vs torch`);
        expectClose(await grads[1].data(), t.dClassifier, tol, `${t.name}: op dClassifier vs torch`);
        if (t.bias) expectClose(await grads[2].data(), t.dBias, tol, `${t.name}: op dBias vs torch`);
        tf.dispose([value, ...grads]);
      }
      tf.dispose([e, c, y, b, w, up]);
    });

    for (const reduction of ['none', 'mean', 'sum'] as const) {
      it(`returned extras match float64 with reduction ${reduction} (labels [3, 13], padded, classWeights)`,
         async () => {
           const k: Case = {n: 39, v: 67, d: 8, seed: 135, leading: [3, 13], masked: [[64, 67]], classWeights: true,
                            ignoreFraction: 0.25, options: {...ALL, zLoss: 0.01, ignoreIndex: 5, reduction}};
           const built = build(k);
           const {ref, e, c, y, b} = built;
           const fwd = lceReferenceForward(ref);
           expect(argmaxIsStable(fwd.logits, k.n, k.v, 1e-3)).withContext('the case has no near-tied maxima').toBe(true);
           const r = linearCrossEntropy(e, c, y, {
             ...opOptions(k, built, b), returnLse: true, returnZLoss: true, returnPredictions: true,
             returnAccuracy: true, returnEntropy: true,
           });
           const kept = Array.from(ref.labels, l => l !== 5);
           const correct: number[] = kept.map((isKept, i) => isKept && fwd.argmax[i] === ref.labels[i] ? 1 : 0);
           const keptCount = kept.filter(x => x).length;
           expect(r.predictions.dtype).toBe('int32');
           for (const field of ['lse', 'predictions', 'entropy'] as const) {
             expect(r[field].shape).withContext(field).toEqual([3, 13]);
           }
           expectClose(await r.lse.data(), fwd.lse, tol, 'lse');
           expectClose(await r.entropy.data(), fwd.entropy, tol, 'entropy');
           expect(Array.from(await r.predictions.data())).toEqual(Array.from(fwd.argmax));
           if (reduction === 'none') {
             for (const field of ['loss', 'zLoss', 'accuracy'] as const) {
               expect(r[field].shape).withContext(field).toEqual([3, 13]);
             }
             expectClose(await r.loss.data(), fwd.losses, tol, 'loss');
             expectClose(await r.zLoss.data(), fwd.zLossTerms, tol, 'zLoss');
             expect(Array.from(await r.accuracy.data())).toEqual(correct);
           } else {
             expect(r.loss.shape).toEqual([]);
             expectClose(await r.loss.data(), [lceReferenceReduce(ref, fwd.losses, reduction)], tol, 'loss');
             expectClose(await r.zLoss.data(), [lceReferenceReduce(ref, fwd.zLossTerms, reduction)], tol, 'zLoss');
             const total = correct.reduce((a, x) => a + x, 0);
             expectClose(await r.accuracy.data(), [reduction === 'sum' ? total : total / keptCount], 1e-6, 'accuracy');
           }
           tf.dispose([r, e, c, y, b, built.w] as tf.TensorContainer);
         });
    }

    it('returnZLoss is differentiable; entropy is not (its gradient is ignored)', async () => {
      const k: Case = {n: 30, v: 50, d: 6, seed: 135, withBias: true, classWeights: true, ignoreFraction: 0.2,
                       options: {...NO_CAP, zLoss: 0.02}};
      const built = build(k);
      const {ref, e, c, y, b} = built;
      const fwd = lceReferenceForward(ref);
      const [de, dc, db] = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => {
        const r = linearCrossEntropy(ee, cc, y, {...opOptions(k, built, bb), returnZLoss: true, returnEntropy: true});
        return tf.add(tf.add(r.loss, tf.mul(0.7, r.zLoss)), tf.sum(r.entropy)) as tf.Scalar;
      })([e, c, b!]);
      // d(0.7 · zLoss_mean)/dz = 0.7 · 2·zLoss·w_y·lse·p / Σw: an lse gradient of 1.4·zLoss·w_y·lse / Σw per kept token.
      const divisor = lceReferenceMeanDivisor(ref);
      const dLse = fwd.lse.map((l, i) => ref.labels[i] === -100 ? 0 :
                                                                 1.4 * 0.02 * ref.classWeights![ref.labels[i]] * l / divisor);
      const expected = lceReferenceBackward(ref, fwd, lceReferenceReductionGradient(ref, 'mean'), dLse);
      expectClose(await de.data(), expected.dEmbeddings, tol, 'dEmbeddings');
      expectClose(await dc.data(), expected.dClassifier, tol, 'dClassifier');
      expectClose(await db.data(), expected.dBias, tol, 'dBias');
      tf.dispose([de, dc, db, e, c, y, b!, built.w!]);
    });

    it('classWeights that sum to 0 over the kept tokens give a mean of 0 and zero gradients', async () => {
      const built = build({n: 8, v: 5, d: 3, seed: 136});
      const w = tf.tensor1d([0, 0, 0, 0, 0]);
      const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor) =>
          linearCrossEntropy(ee, cc, built.y, {classWeights: w, labelSmoothing: 0.1}))([built.e, built.c]);
      expect(Array.from(await value.data())).toEqual([0]);
      expectClose(await grads[0].data(), new Float64Array(24), 0, 'dEmbeddings');
      tf.dispose([value, ...grads, w, built.e, built.c, built.y]);
    });

    it('takes TensorLike inputs (nested arrays) and tf.variable / tf.randomNormal tensors alike', async () => {
      const built = build({n: 6, v: 7, d: 3, seed: 137, withBias: true, classWeights: true});
      const asArrays = {
        e: await built.e.array() as number[][], c: await built.c.array() as number[][],
        y: await built.y.array() as number[], b: await built.b!.array() as number[], w: await built.w!.array() as number[],
      };
      const fromArrays = linearCrossEntropy(asArrays.e, asArrays.c, asArrays.y,
                                            {bias: asArrays.b, classWeights: asArrays.w, reduction: 'none'});
      const fromTensors = linearCrossEntropy(tf.variable(built.e), built.c, built.y,
                                             {bias: built.b, classWeights: built.w, reduction: 'none'});
      expect(fromArrays.shape).toEqual([6]);
      expectClose(await fromArrays.data(), await fromTensors.data(), 0, 'TensorLike vs tensors');
      expectClose(await fromArrays.data(), lceReferenceForward(built.ref).losses, tol, 'vs float64');
      const random = linearCrossEntropy(tf.randomNormal([2, 5, 3]), tf.randomNormal([7, 3]), tf.zeros([2, 5], 'int32'));
      expect(random.shape).toEqual([]);
      tf.dispose([fromArrays, fromTensors, random, built.e, built.c, built.y, built.b!, built.w!]);
    });

    it('forward and backward need no stock-op gradient (tfjs-core alone registers none)', async () => {
      await withoutStockGradients(async () => {
        // (checkAgainstReference's own tf.sum for 'none' would need Sum's gradient: 'mean' and 'sum' only.)
        for (const k of [
                 {n: 24, v: 31, d: 5, seed: 138, leading: [4, 6], shift: true, classWeights: true, withBias: true,
                  masked: [[29, 31]], ignoreFraction: 0.1, options: {...ALL}},
                 {n: 24, v: 31, d: 5, seed: 139, leading: [2, 3, 4], layout: 'dv', options: {...NO_CAP}},
                 {n: 24, v: 31, d: 5, seed: 140, options: {reduction: 'sum', labelSmoothing: 0.2}},
               ] as Case[]) {
          await checkAgainstReference(k, tol);
        }
        // The extras' paths too: every output, each differentiated on its own (tf.add would need Add's gradient).
        const k: Case = {n: 12, v: 9, d: 4, seed: 141, leading: [3, 4], withBias: true, shift: true,
                         options: {zLoss: 0.1, reduction: 'none'}};
        const built = build(k);
        const fwd = lceReferenceForward(built.ref);
        for (const field of ['loss', 'zLoss', 'lse'] as const) {
          const [de] = tf.grads((ee: tf.Tensor) => linearCrossEntropy(ee, built.c, built.y, {
            ...opOptions(k, built, built.b), returnLse: true, returnZLoss: true, returnAccuracy: true,
            returnPredictions: true, returnEntropy: true,
          })[field])([built.e]);
          // The upstream gradient of every output position is 1 (tf.grads of a non-scalar).
          const ones = perTokenUpstream(k, new Float64Array(9).fill(1));
          const zero = new Float64Array(12);
          const dLse = field === 'lse' ? ones : field === 'zLoss' ?
              fwd.lse.map((l, i) => built.ref.labels[i] === -100 ? 0 : 2 * 0.1 * l) : zero;
          const expected = lceReferenceBackward(built.ref, fwd, field === 'loss' ? ones : zero, dLse);
          expect(de.shape).toEqual([3, 4, 4]);
          expectClose(await de.data(), expected.dEmbeddings, tol, `dEmbeddings of ${field}`);
          de.dispose();
        }
        tf.dispose([built.e, built.c, built.y, built.b!]);
        // And an optimizer step.
        const cv = tf.variable(tf.randomNormal([9, 4]));
        const opt = tf.train.sgd(0.1);
        tf.dispose(opt.minimize(() => linearCrossEntropy(tf.ones([2, 3, 4]), cv, tf.zeros([2, 3], 'int32'),
                                                         {maxSup: 0.1}), true) ?? []);
        opt.dispose();
        cv.dispose();
      });
    });

    it('the kernel returns losses, lse, argmax (first maximum) and entropy only when asked', async () => {
      // Rows 1 and 4 of C are equal, with integer dot products: an exact tie that the first index wins.
      // Row 6 is masked but would hold the largest logit.
      const d = 3, v = 7, n = 4;
      const classifier = uniformArray(seededRandom(142), v * d, -0.5, 0.5);
      classifier.set([2, -1, 1], 1 * d);
      classifier.set([2, -1, 1], 4 * d);
      classifier.set([9, -9, 9], 6 * d);
      const embeddings = uniformArray(seededRandom(143), n * d);
      embeddings.set([3, -2, 2, 3, -2, 2], 0);
      const bias = [0, 0, 0, 0, 0, 0, -Infinity];
      const ref: LceRefInput = {n, v, d, embeddings, classifier, bias, labels: [0, 4, -100, 5], softcap: 5};
      const fwd = lceReferenceForward(ref);
      expect(fwd.argmax[0]).toBe(1);
      const inputs = {
        embeddings: tf.tensor2d(embeddings, [n, d]), classifier: tf.tensor2d(classifier, [v, d]),
        labels: tf.tensor1d(ref.labels as number[], 'int32'), bias: tf.tensor1d(bias), classWeights: tf.ones([v]),
      };
      for (const computeEntropy of [false, true]) {
        const out = runKernelOrComposite(SluiceLinearCrossEntropy, inputs, lceKernelAttrs({softcap: 5, computeEntropy}));
        expect(out.length).toBeGreaterThanOrEqual(4);
        expect(out.slice(0, 4).map(t => t.shape)).toEqual([[n], [n], [n], computeEntropy ? [n] : [0]]);
        expect(out[2].dtype).toBe('int32');
        expectClose(await out[0].data(), fwd.losses, tol, 'losses');
        expectClose(await out[1].data(), fwd.lse, tol, 'lse');
        expect(Array.from(await out[2].data())).toEqual(Array.from(fwd.argmax));
        if (computeEntropy) expectClose(await out[3].data(), fwd.entropy, tol, 'entropy');
        tf.dispose(out);
      }
      tf.dispose(Object.values(inputs));
    });

    it('a label outside [0, V) that reaches the kernel gives a NaN loss and a NaN dEmbeddings row', async () => {
      // The op rejects these labels where it can read them; a kernel must not turn them into a finite loss.
      const k: Case = {n: 5, v: 5, d: 3, seed: 144, withBias: true, options: {labelSmoothing: 0.1, maxSup: 0.1}};
      const {e, c, b} = build(k);
      const labels = [1, 7, -3, 2, -100];
      const ref: LceRefInput = {...build(k).ref, labels, labelSmoothing: 0.1, maxSup: 0.1};
      const fwd = lceReferenceForward(ref);
      const y = tf.tensor1d(labels, 'int32');
      const attrs = lceKernelAttrs({labelSmoothing: 0.1, maxSup: 0.1});
      const upstream = tf.tensor1d([1, 1, 1, 1, 1]);
      const lossesOf = (ee: tf.Tensor) =>
          runKernelOrComposite(SluiceLinearCrossEntropy, {embeddings: ee, classifier: c, labels: y, bias: b,
                                                          classWeights: tf.ones([5])}, attrs)[0];
      const losses = await lossesOf(e).data();
      expect(Array.from(losses, l => Number.isNaN(l))).toEqual([false, true, true, false, false]);
      expectClose([losses[0], losses[3], losses[4]], [fwd.losses[0], fwd.losses[3], 0], tol, 'the other tokens');
      const [de] = tf.grads((ee: tf.Tensor) => tf.sum(tf.mul(lossesOf(ee), upstream)) as tf.Scalar)([e]);
      const rows = await de.array() as number[][];
      expect(rows.map(r => r.every(x => Number.isNaN(x)))).toEqual([false, true, true, false, false]);
      const expected = lceReferenceBackward(ref, fwd, [1, 1, 1, 1, 1]);
      expectClose([...rows[0], ...rows[3], ...rows[4]],
                  [0, 3, 4].flatMap(i => Array.from(expected.dEmbeddings.subarray(i * 3, i * 3 + 3))), tol,
                  'dEmbeddings of the other tokens');
      tf.dispose([e, c, b!, y, upstream, de]);
    });

    it('shift outputs have shape [B, T − 1] and match the reference per position', async () => {
      const k: Case = {n: 24, v: 17, d: 4, seed: 145, leading: [3, 8], shift: true, options: {...ALL, reduction: 'none'}};
      const built = build(k);
      const fwd = lceReferenceForward(built.ref);
      const r = linearCrossEntropy(built.e, built.c, built.y, {...opOptions(k, built), returnLse: true,
                                                               returnPredictions: true});
      expect(r.loss.shape).toEqual([3, 7]);
      expect(r.lse.shape).toEqual([3, 7]);
      expect(r.predictions.shape).toEqual([3, 7]);
      expectClose(await r.loss.data(), perTokenExpected(k, fwd.losses), tol, 'losses');
      expectClose(await r.lse.data(), perTokenExpected(k, fwd.lse), tol, 'lse');
      expect(perTokenUpstream(k, new Float64Array(21).fill(1)).filter(x => x === 0).length).toBe(3);
      expect(product(built.outShape)).toBe(21);
      tf.dispose([r, built.e, built.c, built.y] as tf.TensorContainer);
    });
  });
}
