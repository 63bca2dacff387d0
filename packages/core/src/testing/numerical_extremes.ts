/**
 * Numerical extremes (issue 9, part 3): linearCrossEntropy with logits near
 * ±1e4, softcap 0.1 and 1e4, labelSmoothing 1, all tokens ignored, V = 1,
 * D = 1, N = 0, padded vocabularies (bias −Inf) with every option; topOneSuppression with offsets
 * up to 1e6 and ties; NaN and ±Inf in embeddings, classifier, bias, logits
 * and MoE inputs reaching the loss or output (never a silently finite loss).
 * Values and gradients are compared with the float64 references of
 * packages/core/src/reference, on every env, through the registered kernels
 * and through the composite.
 *
 * Inputs at large magnitudes are small integers times powers of ten, so every
 * logit is an exact float32 and the reference sees what the kernels see; the
 * tolerance then only has to allow for float32 rounding of the results
 * themselves (an lse near 1e4 has an ulp of 1e-3), see `tolAt`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {SluiceExpertCombine, SluiceExpertDispatch, SluiceGroupedMatMul, SluiceLinearCrossEntropy,
        SluiceTopOneSuppression} from '../kernel_names';
import {expertCombine} from '../ops/expert_combine';
import {expertDispatch} from '../ops/expert_dispatch';
import {groupedMatMul} from '../ops/grouped_mat_mul';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import type {LinearCrossEntropyOptions} from '../ops/linear_cross_entropy_options';
import {routeTopK} from '../ops/route_top_k';
import {topOneSuppression} from '../ops/top_one_suppression';
import {lceReferenceBackward, lceReferenceForward, lceReferenceReduce, lceReferenceReductionGradient,
        LceRefInput} from '../reference/linear_cross_entropy_ref';
import {topOneSuppressionReferenceBackward, topOneSuppressionReferenceForward} from '../reference/top_one_suppression_ref';
import {backendTolerance, expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {seededRandom, uniformArray} from './random';

const EPS32 = Math.pow(2, -23);

/**
 * Relative tolerance (as expectClose takes it) when logits reach `magnitude`:
 * the backend's tolerance plus 16 float32 ulps of that magnitude, since lse,
 * and through exp(z − lse) every softmax probability, carry its rounding.
 */
function tolAt(tol: number, magnitude: number): number {
  return tol + 16 * EPS32 * magnitude;
}

/** Integers in [lo, hi] as float32 (exact). */
function integers(rand: () => number, size: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({length: size}, () => lo + Math.floor(rand() * (hi - lo + 1)));
}

interface LceCase {
  n: number; v: number; d: number;
  embeddings: Float32Array; classifier: Float32Array; labels: Int32Array; bias?: Float32Array;
  options?: Pick<LceRefInput, 'ignoreIndex'|'softcap'|'labelSmoothing'|'zLoss'|'maxSup'>&
      {reduction?: 'mean'|'sum'|'none'};
  /** Largest |logit| (before the cap), for the tolerance. */
  magnitude: number;
}

/**
 * Logits `offset + small integers (+ j/1024)` (or ±offset per class with
 * `mixedSigns`): embeddings [offset/100, r, 1], classifier [±100, s, j/1024],
 * r and s in [-3, 3]. Every logit is an exact float32 (a multiple of 2^-10
 * below 16384). The last component breaks ties between classes, so the
 * maxSup gradient has one target; `ties` leaves it out (then d may be 2).
 */
function nearOffset(n: number, v: number, d: number, offset: number, seed: number, mixedSigns = false,
                    labelsFrom?: (rand: () => number) => number, ties = false): LceCase {
  const rand = seededRandom(seed);
  const embeddings = integers(rand, n * d, -3, 3), classifier = integers(rand, v * d, -3, 3);
  for (let i = 0; i < n; ++i) {
    embeddings[i * d] = Math.abs(offset) / 100;
    if (!ties) embeddings[i * d + d - 1] = 1;
  }
  for (let j = 0; j < v; ++j) {
    classifier[j * d] = (mixedSigns ? (rand() < 0.5 ? -1 : 1) : Math.sign(offset)) * 100;
    if (!ties) classifier[j * d + d - 1] = (j % 1024) / 1024;
  }
  const labels = Int32Array.from({length: n}, () => labelsFrom ? labelsFrom(rand) : Math.floor(rand() * v));
  return {n, v, d, embeddings, classifier, labels, magnitude: Math.abs(offset) + 9 * (d - 1)};
}

/** D = 1, logits ±1e4: embeddings in {±100, ±75, ±50}, classifier ±(100 − j/64) (distinct, exact). */
function depthOne(n: number, v: number, seed: number): LceCase {
  const rand = seededRandom(seed);
  const embeddings =
      Float32Array.from({length: n}, () => [100, 75, 50][Math.floor(rand() * 3)] * (rand() < 0.5 ? -1 : 1));
  const classifier = Float32Array.from({length: v}, (_, j) => (100 - j / 64) * (rand() < 0.5 ? -1 : 1));
  const labels = Int32Array.from({length: n}, () => Math.floor(rand() * v));
  return {n, v, d: 1, embeddings, classifier, labels, magnitude: 1e4};
}

/**
 * `k` with `pad` classes added at its head or tail whose bias is −Inf (a
 * padded vocabulary). Their classifier rows are twice the largest, so their
 * raw logits would dominate every row if any of them leaked into the lse,
 * the smoothing mass or the maxSup mean. Labels keep pointing at the same
 * (unmasked) classes.
 */
function padVocabulary(k: LceCase, pad: number, at: 'head'|'tail'): LceCase {
  const {v, d} = k;
  const rows = Float32Array.from({length: pad * d}, (_, q) => 2 * k.classifier[q % d]);
  const bias = k.bias ?? new Float32Array(v);
  const masked = new Float32Array(pad).fill(-Infinity);
  const join = (a: Float32Array, b: Float32Array) => Float32Array.from([...a, ...b]);
  return {
    ...k, v: v + pad,
    classifier: at === 'head' ? join(rows, k.classifier) : join(k.classifier, rows),
    bias: at === 'head' ? join(masked, bias) : join(bias, masked),
    labels: at === 'head' ? k.labels.map(y => y < 0 ? y : y + pad) : k.labels,
  };
}

/**
 * True when some kept token's two largest final logits are within float32
 * resolution of each other (in float64, as the reference sees them) where
 * the gradient passes (the cap's derivative is not 0): then float32 may pick
 * another argmax than the reference, and the maxSup gradient moves with it.
 */
function hasNearTie(k: LceCase): boolean {
  const fwd = lceReferenceForward({n: k.n, d: k.d, v: k.v, embeddings: k.embeddings, classifier: k.classifier,
                                   labels: k.labels, bias: k.bias, softcap: k.options?.softcap});
  // Uncapped logits of this file's integer data are exact float32 sums: only an exact tie is ambiguous.
  // Through a cap, tanh's rounding can merge logits a few ulps apart.
  const margin = k.options?.softcap ? 8 * EPS32 : 0;
  for (let i = 0; i < k.n; ++i) {
    if (k.labels[i] === (k.options?.ignoreIndex ?? -100)) continue;
    const row = fwd.logits.subarray(i * k.v, (i + 1) * k.v);
    const best = fwd.argmax[i];
    if (fwd.capDerivative[i * k.v + best] < 1e-6) continue;
    for (let j = 0; j < k.v; ++j) {
      if (j !== best && row[best] - row[j] <= margin * Math.max(1, Math.abs(row[best]))) return true;
    }
  }
  return false;
}

/** The op's loss (a weighted sum for 'none') and gradients, against the reference. */
async function checkLce(k: LceCase, tol: number) {
  const reduction = k.options?.reduction ?? 'mean';
  const ref: LceRefInput = {n: k.n, d: k.d, v: k.v, embeddings: k.embeddings, classifier: k.classifier,
                            labels: k.labels, bias: k.bias, ...k.options};
  const fwd = lceReferenceForward(ref);
  const weights = uniformArray(seededRandom(k.n + k.v), k.n, 0.5, 1.5);
  const e = tf.tensor2d(k.embeddings, [k.n, k.d]), c = tf.tensor2d(k.classifier, [k.v, k.d]);
  const y = tf.tensor1d(k.labels, 'int32'), w = tf.tensor1d(weights);
  const b = k.bias ? tf.tensor1d(k.bias) : undefined;
  const options = (bb?: tf.Tensor) => ({...k.options, ...(bb ? {bias: bb as tf.Tensor1D} : {})}) as
      LinearCrossEntropyOptions&{returnLse?: false};
  const f = (...args: tf.Tensor[]) => {
    const loss = linearCrossEntropy(args[0], args[1], y, options(args[2])) as tf.Tensor;
    return (reduction === 'none' ? tf.sum(tf.mul(loss, w)) : loss) as tf.Scalar;
  };
  const {value, grads} = tf.valueAndGrads(f)(b ? [e, c, b] : [e, c]);
  let expectedLoss: number, dLosses: Float64Array;
  if (reduction === 'none') {
    expectedLoss = fwd.losses.reduce((acc, l, i) => acc + l * weights[i], 0);
    dLosses = Float64Array.from(weights);
  } else {
    expectedLoss = lceReferenceReduce(ref, fwd.losses, reduction);
    dLosses = lceReferenceReductionGradient(ref, reduction);
  }
  const expected = lceReferenceBackward(ref, fwd, dLosses);
  const t = tolAt(tol, k.magnitude);
  expectClose(await value.data(), [expectedLoss], t, 'loss');
  expectClose(await grads[0].data(), expected.dEmbeddings, t, 'dEmbeddings');
  expectClose(await grads[1].data(), expected.dClassifier, t, 'dClassifier');
  if (b) expectClose(await grads[2].data(), expected.dBias, t, 'dBias');
  // lse of every token, ignored ones included.
  const {loss, lse} = linearCrossEntropy(e, c, y, {...options(b), returnLse: true});
  expectClose(await lse.data(), fwd.lse, t, 'lse');
  tf.dispose([e, c, y, w, value, grads, loss, lse, ...(b ? [b] : [])]);
}

const ALL = {labelSmoothing: 0.1, zLoss: 1e-4, maxSup: 0.1};

/** Non-finite check that prints the values: NaN and ±Inf both count. */
function expectNonFinite(values: ArrayLike<number>, what: string) {
  for (let i = 0; i < values.length; ++i) {
    expect(Number.isFinite(values[i])).withContext(`${what}[${i}] = ${values[i]} should not be finite`).toBe(false);
  }
}

function expectFinite(values: ArrayLike<number>, what: string) {
  let bad = -1;
  for (let i = 0; i < values.length && bad < 0; ++i) {
    if (!Number.isFinite(values[i])) bad = i;
  }
  expect(bad).withContext(`${what}[${bad}] = ${values[bad]} should be finite`).toBe(-1);
}

export function describeNumericalExtremes(constraints: Constraints = ALL_ENVS) {
  const kernels = [SluiceLinearCrossEntropy, SluiceTopOneSuppression, SluiceExpertDispatch, SluiceGroupedMatMul,
                   SluiceExpertCombine];
  describeKernelAndComposite('Numerical extremes', kernels, constraints, (env, composite) => {
    const tol = backendTolerance(env.backendName);

    // ---- linearCrossEntropy: values and gradients against float64 ----
    // One shape (N=17, V=129, D=3) for most cases: webgl compiles a program per shape.
    const N = 17, V = 129, D = 3;
    // Cases marked SLOW_ON_GPU run on cpu and tensorflow only: on webgl and webgpu (SwiftShader in CI)
    // each new shape or option variant compiles programs for seconds, and what these add (reductions,
    // block edges, more softcap and V=1 variants) is covered there by the op suites.
    const SLOW_ON_GPU = true;
    const LCE_CASES: Array<[string, () => LceCase, boolean?]> = [
      ['logits near +1e4', () => ({...nearOffset(N, V, D, 1e4, 1), options: {...ALL}})],
      ['logits near -1e4 (exp underflows without the max shift)', () => ({
         ...nearOffset(N, V, D, -1e4, 2), options: {...ALL}})],
      ['logits ±1e4 per class, V past a 1024 block', () => ({
         ...nearOffset(23, 1031, D, 1e4, 3, true), options: {...ALL}}), SLOW_ON_GPU],
      ['logits ±1e4 per class, reduction sum with bias', () => {
         const k = nearOffset(N, V, D, 1e4, 4, true);
         return {...k, bias: integers(seededRandom(40), k.v, -5, 5), options: {...ALL, reduction: 'sum' as const}};
       }, SLOW_ON_GPU],
      ['logits ±1e4 per class, reduction none (zLoss: lse² ≈ 1e8)', () => ({
         ...nearOffset(N, V, D, 1e4, 5, true), options: {...ALL, reduction: 'none' as const}}), SLOW_ON_GPU],
      ['labelSmoothing 1 at ±1e4', () => ({
         ...nearOffset(N, V, D, 1e4, 6, true), options: {...ALL, labelSmoothing: 1}})],
      ['softcap 0.1 with logits ±1e4 (tanh saturated, zero derivative)', () => ({
         ...nearOffset(N, V, D, 1e4, 7, true), options: {...ALL, softcap: 0.1}, magnitude: 1})],
      ['softcap 0.1 with logits of its order (|x| < 0.12, unsaturated)', () => {
         const rand = seededRandom(8);
         return {n: N, v: V, d: D, embeddings: uniformArray(rand, N * D, -0.2, 0.2),
                 classifier: uniformArray(rand, V * D, -0.2, 0.2),
                 labels: Int32Array.from({length: N}, () => Math.floor(rand() * V)), options: {...ALL, softcap: 0.1},
                 magnitude: 1};
       }, SLOW_ON_GPU],
      // Distinct logits ~0.8 apart: capped by 1e4 they stay far more than an ulp apart, so float32 and
      // float64 agree on the argmax (nearOffset's 1/1024 steps would merge under the cap).
      ['D = 1, softcap 1e4 with logits ±1e4 (tanh(±1))', () => ({
         ...depthOne(N, V, 9), options: {...ALL, softcap: 1e4}})],
      ['softcap 1e4 with logits within ±30 (the cap ≈ identity)', () => ({
         ...nearOffset(N, V, D, 20, 10, true), options: {...ALL, softcap: 1e4}, magnitude: 30}), SLOW_ON_GPU],
      ['all tokens ignored at ±1e4 with a softcap', () => ({
         ...nearOffset(N, V, D, 1e4, 11, true, () => -100), options: {...ALL, softcap: 50}})],
      ['all tokens ignored, reduction none', () => ({
         ...nearOffset(N, V, D, 1e4, 12, true, () => 7),
         options: {...ALL, ignoreIndex: 7, reduction: 'none' as const}}),
       SLOW_ON_GPU],
      ['V = 1 at +1e4', () => ({...nearOffset(N, 1, D, 1e4, 13), options: {...ALL}})],
      ['V = 1 at -1e4 with a softcap', () => ({...nearOffset(N, 1, D, -1e4, 14), options: {...ALL, softcap: 30}}),
       SLOW_ON_GPU],
      ['D = 1 at ±1e4', () => ({...depthOne(29, V, 15), options: {...ALL}}), SLOW_ON_GPU],
    ];
    const gpu = env.backendName === 'webgl' || env.backendName === 'webgpu';
    for (const [name, make, slowOnGpu] of LCE_CASES) {
      if (gpu && slowOnGpu) continue;
      it(`linearCrossEntropy ${name}: values and gradients match float64`, async () => {
        const k = make();
        expect(hasNearTie(k)).withContext('test data: a (near) tie at the maximum makes the maxSup gradient ambiguous')
            .toBe(false);
        await checkLce(k, tol);
      });
    }

    it('linearCrossEntropy maxSup with tied maxima at ±1e4: the gradient goes to the first maximum', async () => {
      const k = {...nearOffset(N, V, 2, 1e4, 18, true, undefined, true), options: {maxSup: 0.5}};
      expect(hasNearTie(k)).withContext('test data should hold ties').toBe(true);
      await checkLce(k, tol);
    });

    it('linearCrossEntropy N = 0: loss 0 (mean, sum), empty per-token loss and lse, zero gradients', async () => {
      const e = tf.zeros([0, 3]) as tf.Tensor2D, c = tf.fill([5, 3], 1e4) as tf.Tensor2D;
      const y = tf.tensor1d([], 'int32');
      for (const reduction of ['mean', 'sum'] as const) {
        const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor) =>
            linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, {reduction, ...ALL, softcap: 5}) as
                tf.Scalar)([e, c]);
        expect(Array.from(await value.data())).withContext(reduction).toEqual([0]);
        expect(grads[0].shape).toEqual([0, 3]);
        expectClose(await grads[1].data(), new Float64Array(15), 0, `${reduction} dClassifier`);
      }
      const {loss, lse} = linearCrossEntropy(e, c, y, {reduction: 'none', returnLse: true});
      expect(loss.shape).toEqual([0]);
      expect(lse.shape).toEqual([0]);
    });

    // ---- linearCrossEntropy: padded vocabularies (bias −Inf) at extreme logits ----
    const PADDED: Array<[string, () => {padded: LceCase, plain: LceCase}, boolean?]> = [
      ['3 masked tail classes at logits near +1e4, smoothing, z-loss, maxSup', () => {
         const plain = {...nearOffset(N, V, D, 1e4, 18), options: {...ALL}};
         return {plain, padded: padVocabulary(plain, 3, 'tail')};
       }],
      ['5 masked head classes at logits ±30 with softcap 50 (masked logits would sit at −50)', () => {
         const plain = {...nearOffset(N, V, D, 30, 19, true), options: {...ALL, softcap: 50}};
         return {plain, padded: padVocabulary(plain, 5, 'head')};
       }],
      ['a padded vocabulary at logits near -1e4, reduction none', () => {
         const plain = {...nearOffset(N, V, D, -1e4, 20), options: {...ALL, reduction: 'none' as const}};
         return {plain, padded: padVocabulary(plain, 127, 'tail')};
       }, SLOW_ON_GPU],
      ['V = 1 padded with 7 masked classes, labelSmoothing 1', () => {
         const plain = {...nearOffset(N, 1, D, 1e4, 21), options: {...ALL, labelSmoothing: 1}};
         return {plain, padded: padVocabulary(plain, 7, 'tail')};
       }, SLOW_ON_GPU],
    ];
    for (const [name, make, slowOnGpu] of PADDED) {
      it(`linearCrossEntropy padded vocabulary, ${name}: the unpadded problem's values and gradients`, async () => {
        if (slowOnGpu && gpu) {
          pending(`${env.backendName}: one more shape compiles programs for seconds on software GPUs; ` +
                  'the op suites cover padded vocabularies there');
          return;
        }
        const {padded, plain} = make();
        // The reference itself: masking = the unpadded vocabulary, in float64.
        const refOf = (k: LceCase): LceRefInput => ({n: k.n, d: k.d, v: k.v, embeddings: k.embeddings,
                                                     classifier: k.classifier, labels: k.labels, bias: k.bias,
                                                     ...k.options});
        const fwdPadded = lceReferenceForward(refOf(padded)), fwdPlain = lceReferenceForward(refOf(plain));
        expectClose(fwdPadded.losses, fwdPlain.losses, 1e-12, 'reference: padded vs unpadded losses');
        expectClose(fwdPadded.lse, fwdPlain.lse, 1e-12, 'reference: padded vs unpadded lse');
        // And the op, through kernels and composite, against it (masked rows: exactly 0, checked within).
        expect(hasNearTie(padded)).withContext('test data: a (near) tie at the maximum').toBe(false);
        await checkLce(padded, tol);
      });
    }

    // ---- linearCrossEntropy: NaN and Inf reach the loss ----
    const base = () => nearOffset(6, 37, D, 20, 17, true);
    type Plain = LinearCrossEntropyOptions&{returnLse?: false};
    const POISON: Array<[string, (k: LceCase) => void, number[]|'all', Plain?]> = [
      ['NaN in one embeddings row', k => k.embeddings[2 * k.d + 1] = NaN, [2]],
      ['+Inf in one embeddings row', k => k.embeddings[4 * k.d + 1] = Infinity, [4]],
      ['NaN in one embeddings row, with a softcap', k => k.embeddings[1 * k.d + 2] = NaN, [1], {softcap: 5}],
      ['NaN in one classifier row', k => k.classifier[5 * k.d + 1] = NaN, 'all'],
      ['-Inf in one classifier entry (+Inf logits where the embedding is negative)', k => {
         k.embeddings.fill(-1);
         k.classifier[3 * k.d + 1] = -Infinity;
       }, 'all'],
      ['NaN in the bias', k => k.bias![11] = NaN, 'all'],
      ['+Inf in the bias', k => k.bias![11] = Infinity, 'all'],
      ['NaN in the classifier, with a softcap', k => k.classifier[0] = NaN, 'all', {softcap: 5}],
    ];
    for (const [name, poison, rows, extra] of POISON) {
      it(`linearCrossEntropy: ${name} gives a non-finite loss, never a finite one`, async () => {
        const k = base();
        k.bias = new Float32Array(k.v);
        poison(k);
        const e = tf.tensor2d(k.embeddings, [k.n, k.d]), c = tf.tensor2d(k.classifier, [k.v, k.d]);
        const y = tf.tensor1d(k.labels, 'int32'), b = tf.tensor1d(k.bias);
        const options: Plain = {...ALL, ...extra};
        for (const reduction of ['mean', 'sum'] as const) {
          const loss = linearCrossEntropy(e, c, y, {...options, bias: b, reduction}) as tf.Tensor;
          expectNonFinite(await loss.data(), `${reduction} loss`);
        }
        const perToken = await (linearCrossEntropy(e, c, y, {...options, bias: b, reduction: 'none'}) as tf.Tensor).data();
        const bad = rows === 'all' ? Array.from({length: k.n}, (_, i) => i) : rows;
        expectNonFinite(bad.map(i => perToken[i]), 'poisoned tokens\' losses');
        const clean = Array.from({length: k.n}, (_, i) => i).filter(i => !bad.includes(i));
        if (clean.length > 0) {
          const fwd = lceReferenceForward({n: k.n, d: k.d, v: k.v, embeddings: k.embeddings, classifier: k.classifier,
                                           labels: k.labels, bias: k.bias, ...ALL, softcap: options.softcap});
          expectClose(clean.map(i => perToken[i]), clean.map(i => fwd.losses[i]), tolAt(tol, 30),
                      'the other tokens\' losses');
        }
      });
    }

    // ---- topOneSuppression ----
    const OFFSETS: Array<[string, number]> = [['+1e4', 1e4], ['-1e4', -1e4], ['+1e6', 1e6], ['-1e6', -1e6]];
    for (const [label, offset] of OFFSETS) {
      it(`topOneSuppression with a shared offset of ${label}: penalty and gradient match float64`, async () => {
        const n = 7, v = 300, alpha = 0.3;
        const values = integers(seededRandom(20 + n), n * v, -50, 50).map(x => x + offset);
        values[3 * v + 299] = offset + 51;  // a maximum at the last position
        const weights = uniformArray(seededRandom(21), n, 0.5, 1.5);
        const z = tf.tensor2d(values, [n, v]);
        const p = await topOneSuppression(z, alpha).data();
        const g = await tf.grad((x: tf.Tensor) =>
                                    tf.sum(tf.mul(topOneSuppression(x as tf.Tensor2D, alpha), weights)))(z).data();
        const fwd = topOneSuppressionReferenceForward(values, n, v, alpha);
        // On top of the backend's tolerance, two float32 ulps of the offset (one rounding of a mean).
        const scale = Math.max(1, ...Array.from(fwd.penalty, Math.abs));
        expectClose(p, fwd.penalty, tol + 2 * EPS32 * Math.abs(offset) * alpha / scale, 'penalty');
        expectClose(g, topOneSuppressionReferenceBackward(fwd, v, alpha, weights), tol, 'dLogits');
      });
    }

    it('topOneSuppression: ties at an offset of 1e6 send the gradient to the first maximum', async () => {
      const n = 3, v = 513, alpha = 0.5;
      const values = integers(seededRandom(22), n * v, -20, 20).map(x => x + 1e6);
      const tied = [[0, 512], [255, 256, 511], [7, 8]];
      tied.forEach((positions, i) => positions.forEach(j => values[i * v + j] = 1e6 + 30));
      const g = await tf.grad((x: tf.Tensor) => tf.sum(topOneSuppression(x as tf.Tensor2D, alpha)))(
                    tf.tensor2d(values, [n, v])).data();
      tied.forEach((positions, i) => {
        expect(g[i * v + positions[0]]).withContext(`row ${i}, first maximum`).toBeCloseTo(alpha * (1 - 1 / v), 5);
        for (const j of positions.slice(1)) {
          expect(g[i * v + j]).withContext(`row ${i}, later maximum at ${j}`).toBeCloseTo(-alpha / v, 5);
        }
      });
    });

    it('topOneSuppression: +Inf or -Inf in a row makes its penalty non-finite; other rows stay exact', async () => {
      const n = 4, v = 33, alpha = 0.2;
      const values = uniformArray(seededRandom(23), n * v, -3, 3);
      values[1 * v + 4] = Infinity;   // max − mean = Inf − Inf: undefined
      values[2 * v + 0] = -Infinity;  // mean = -Inf: the gap is +Inf
      const p = await topOneSuppression(tf.tensor2d(values, [n, v]), alpha).data();
      expectNonFinite([p[1], p[2]], 'penalty of the rows holding an infinity');
      const fwd = topOneSuppressionReferenceForward(values, n, v, alpha);
      expectClose([p[0], p[3]], [fwd.penalty[0], fwd.penalty[3]], tol, 'penalty of the other rows');
    });

    // ---- MoE ops: a poisoned token poisons its own output only ----
    it('routeTopK → expertDispatch → groupedMatMul → expertCombine: NaN in x reaches that token\'s output only',
       async () => {
         const n = 9, d = 4, e = 3, h = 5, k = 2;
         const rand = seededRandom(24);
         const xValues = uniformArray(rand, n * d);
         xValues[4 * d + 2] = NaN;
         const x = tf.tensor2d(xValues, [n, d]);
         const {expertIndices, gates} = routeTopK(tf.tensor2d(uniformArray(rand, n * e, -2, 2), [n, e]), k);
         const {dispatched, expertOffsets, sourceRows} = expertDispatch(x, expertIndices, e);
         const y = groupedMatMul(dispatched, tf.tensor3d(uniformArray(rand, e * d * h), [e, d, h]), expertOffsets);
         const out = await expertCombine(y, sourceRows, gates).data();
         expectNonFinite(out.slice(4 * h, 5 * h), 'output of the NaN token');
         expectFinite(Array.from(out.slice(0, 4 * h)).concat(Array.from(out.slice(5 * h))),
                      'outputs of the other tokens');
       });

    it('expertDispatch with capacity 2^32 or 2^31 (past int32) drops nothing, as dropless does', async () => {
      // Found by this suite: capacity travels to kernels as an int32, so 2^32 wrapped to 0 and
      // dropped every pair (2^31 crashed the composite's slice).
      const n = 7, d = 3, e = 3;
      const x = tf.tensor2d(uniformArray(seededRandom(27), n * d), [n, d]);
      const indices = tf.tensor2d([0, 1, 2, 0, 1, 2, 0, 2, 2, 1, 0, 0, 1, 1], [n, 2], 'int32');
      const dropless = expertDispatch(x, indices, e);
      const want = await dropless.dispatched.data();
      for (const capacity of [2 ** 32, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
        const r = expertDispatch(x, indices, e, {capacity});
        expect(Array.from(await r.droppedCount.data())).withContext(`capacity ${capacity}: dropped`).toEqual([0]);
        expect(Array.from(await r.expertOffsets.data())).withContext(`capacity ${capacity}: offsets`)
            .toEqual(Array.from(await dropless.expertOffsets.data()));
        expectClose(await r.dispatched.data(), want, 0, `capacity ${capacity}: dispatched`);
      }
    });

    it('routeTopK with router logits at ±1e4 gives finite gates that sum to 1', async () => {
      const n = 6, e = 5;
      const logits = integers(seededRandom(25), n * e, -1, 1).map(x => x * 1e4);
      const {gates} = routeTopK(tf.tensor2d(logits, [n, e]), 2);
      const g = await gates.data();
      expectFinite(g, 'gates');
      for (let i = 0; i < n; ++i) {
        expect(g[2 * i] + g[2 * i + 1]).withContext(`row ${i}`).toBeCloseTo(1, 5);
      }
    });

    it('expertCombine: Inf in one gate reaches that token\'s output only', async () => {
      const n = 4, h = 3;
      const y = tf.tensor2d(uniformArray(seededRandom(26), n * h, 0.5, 1), [n, h]);
      const gates = tf.tensor2d([0.5, Infinity, 0.25, 1], [n, 1]);
      const out = await expertCombine(y, tf.tensor1d([0, 1, 2, 3], 'int32'), gates).data();
      expectNonFinite(out.slice(h, 2 * h), 'output of the token with an infinite gate');
      expectFinite(Array.from(out.slice(0, h)).concat(Array.from(out.slice(2 * h))), 'the other outputs');
    });
  });
}
