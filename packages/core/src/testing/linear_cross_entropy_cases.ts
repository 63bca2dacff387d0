/**
 * Problems for the linearCrossEntropy conformance suites, and the check that
 * runs one through the op (loss, per-token outputs and every gradient)
 * against the float64 reference.
 */
import * as tf from '@tensorflow/tfjs-core';

import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import type {LinearCrossEntropyOptions} from '../ops/linear_cross_entropy_options';
import {lceReferenceBackward, lceReferenceDropLast, lceReferenceForward, lceReferenceReduce,
        lceReferenceReductionGradient, lceReferenceShiftLabels, LceRefForward,
        LceRefInput} from '../reference/linear_cross_entropy_ref';

import {expectClose} from './expect_close';
import {randomLabels, seededRandom, uniformArray} from './random';

export type RefOptions = Pick<LceRefInput, 'ignoreIndex'|'softcap'|'labelSmoothing'|'zLoss'|'maxSup'>;
type OpOptions = Omit<LinearCrossEntropyOptions, 'bias'|'classWeights'|'classifierLayout'|'shift'>;

export interface Case {
  n: number; v: number; d: number;
  seed: number;
  withBias?: boolean;
  ignoreFraction?: number;
  scale?: number;  // multiplies embeddings: larger = more peaked softmax
  /** Class ranges [start, end) whose bias is −Inf (masked; a padded vocabulary masks its tail). Labels avoid them. */
  masked?: Array<[number, number]>;
  /** classWeights drawn in [0.25, 2]. */
  classWeights?: boolean;
  /** The classifier as a dense kernel [D, V]. */
  layout?: 'vd'|'dv';
  /** Hidden states [...leading, D] and labels [...leading] (product n); default [n]. */
  leading?: number[];
  /** Position t predicts label t + 1 (needs leading of rank >= 2). */
  shift?: boolean;
  options?: RefOptions&OpOptions;
}

export interface Built {
  /** The reference problem, with the labels the kernels see (shifted when the case shifts). */
  ref: LceRefInput;
  e: tf.Tensor; c: tf.Tensor2D; y: tf.Tensor; b?: tf.Tensor1D; w?: tf.Tensor1D;
  /** The per-token outputs' shape: the labels', without the last position when shifting. */
  outShape: number[];
}

/** [V, D] row-major values as [D, V], in the same array type (float32 inputs, float64 reference gradients). */
export function transposed<T extends Float32Array|Float64Array>(values: T, rows: number, cols: number): T {
  const out = new (values.constructor as new (length: number) => T)(values.length);
  for (let r = 0; r < rows; ++r) {
    for (let k = 0; k < cols; ++k) out[k * rows + r] = values[r * cols + k];
  }
  return out;
}

export function build(k: Case): Built {
  const rand = seededRandom(k.seed);
  const ignoreIndex = k.options?.ignoreIndex ?? -100;
  const isMasked = (j: number) => (k.masked ?? []).some(([a, b]) => j >= a && j < b);
  const unmasked = Array.from({length: k.v}, (_, j) => j).filter(j => !isMasked(j));
  const embeddings = uniformArray(rand, k.n * k.d).map(x => x * (k.scale ?? 1));
  const classifierVD = uniformArray(rand, k.v * k.d);
  const labels = randomLabels(rand, k.n, unmasked.length, ignoreIndex, k.ignoreFraction ?? 0)
                     .map(y => y === ignoreIndex ? y : unmasked[y]);
  let bias = k.withBias || k.masked ? uniformArray(rand, k.v, -2, 2) : undefined;
  if (bias != null && k.masked) {
    bias = bias.map((x, j) => isMasked(j) ? -Infinity : x);
  }
  const weights = k.classWeights ? uniformArray(rand, k.v, 0.25, 2) : undefined;
  const leading = k.leading ?? [k.n];
  const t = leading[leading.length - 1];
  const classifier = k.layout === 'dv' ? transposed(classifierVD, k.v, k.d) : classifierVD;
  const ref: LceRefInput = {
    n: k.n, d: k.d, v: k.v, embeddings, classifier, classifierLayout: k.layout ?? 'vd', bias, classWeights: weights,
    labels: k.shift ? lceReferenceShiftLabels(labels, k.n / t, t, ignoreIndex) : labels,
    ignoreIndex: k.options?.ignoreIndex, softcap: k.options?.softcap, labelSmoothing: k.options?.labelSmoothing,
    zLoss: k.options?.zLoss, maxSup: k.options?.maxSup,
  };
  return {
    ref,
    e: tf.tensor(embeddings, [...leading, k.d]),
    c: tf.tensor2d(classifier, k.layout === 'dv' ? [k.d, k.v] : [k.v, k.d]),
    y: tf.tensor(labels, leading, 'int32'),
    b: bias ? tf.tensor1d(bias) : undefined,
    w: weights ? tf.tensor1d(weights) : undefined,
    outShape: k.shift ? [...leading.slice(0, -1), t - 1] : leading,
  };
}

/** The op's options for a case (its tensors passed in, so gradients can be taken with respect to them). */
export function opOptions(k: Case, built: Built, bias?: tf.Tensor): LinearCrossEntropyOptions {
  const out: LinearCrossEntropyOptions = {...k.options};
  if (bias != null) out.bias = bias as tf.Tensor1D;
  if (built.w != null) out.classWeights = built.w;
  if (k.layout != null) out.classifierLayout = k.layout;
  if (k.shift) out.shift = true;
  return out;
}

/** Per-token reference values in the op's output shape (shifted cases drop the last position of each row). */
export function perTokenExpected(k: Case, values: ArrayLike<number>): Float64Array {
  if (!k.shift) return Float64Array.from(values);
  const leading = k.leading!;
  const t = leading[leading.length - 1];
  return lceReferenceDropLast(values, k.n / t, t);
}

/** Per-token upstream weights in the output shape, spread back over the N tokens (0 at dropped positions). */
export function perTokenUpstream(k: Case, weights: ArrayLike<number>): Float64Array {
  if (!k.shift) return Float64Array.from(weights);
  const leading = k.leading!;
  const t = leading[leading.length - 1];
  const out = new Float64Array(k.n);
  for (let r = 0; r < k.n / t; ++r) {
    for (let s = 0; s + 1 < t; ++s) out[r * t + s] = weights[r * (t - 1) + s];
  }
  return out;
}

/** tf.Reduction values as the op reads them. */
export function reductionName(r: LinearCrossEntropyOptions['reduction']): 'mean'|'sum'|'none' {
  if (r == null) return 'mean';
  if (typeof r === 'string') return r;
  return r === tf.Reduction.NONE ? 'none' : r === tf.Reduction.SUM ? 'sum' : 'mean';
}

export const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Loss (reduced as the case says), its gradients, and the reference's. */
export async function checkAgainstReference(k: Case, tol: number): Promise<LceRefForward> {
  const built = build(k);
  const {ref, e, c, y, b} = built;
  const reduction = reductionName(k.options?.reduction);
  const fwd = lceReferenceForward(ref);
  // 'none' is checked through a weighted sum so every token gets its own upstream gradient.
  const weights = uniformArray(seededRandom(k.seed + 1), product(built.outShape), 0.5, 1.5);
  const w = tf.tensor(weights, built.outShape);
  const f = (ee: tf.Tensor, cc: tf.Tensor, bb?: tf.Tensor) => {
    const loss = linearCrossEntropy(ee, cc, y, opOptions(k, built, bb)) as tf.Tensor;
    return reduction === 'none' ? tf.sum(tf.mul(loss, w)) as tf.Scalar : loss as tf.Scalar;
  };
  const xs = b ? [e, c, b] : [e, c];
  const {value, grads} = tf.valueAndGrads((...args: tf.Tensor[]) => f(args[0], args[1], args[2]))(xs);

  let expectedLoss: number;
  let dLosses: Float64Array;
  if (reduction === 'none') {
    const perToken = perTokenExpected(k, fwd.losses);
    expectedLoss = perToken.reduce((acc, l, i) => acc + l * weights[i], 0);
    dLosses = perTokenUpstream(k, weights);
  } else {
    expectedLoss = lceReferenceReduce(ref, fwd.losses, reduction);
    dLosses = lceReferenceReductionGradient(ref, reduction);
  }
  const expected = lceReferenceBackward(ref, fwd, dLosses);
  expectClose(await value.data(), [expectedLoss], tol, 'loss');
  expect(grads[0].shape).toEqual(e.shape);
  expect(grads[1].shape).toEqual(c.shape);
  expectClose(await grads[0].data(), expected.dEmbeddings, tol, 'dEmbeddings');
  expectClose(await grads[1].data(), expected.dClassifier, tol, 'dClassifier');
  if (b) {
    expectClose(await grads[2].data(), expected.dBias, tol, 'dBias');
  }
  if (reduction === 'none') {
    const perToken = linearCrossEntropy(e, c, y, opOptions(k, built, b)) as tf.Tensor;
    expect(perToken.shape).toEqual(built.outShape);
    expectClose(await perToken.data(), perTokenExpected(k, fwd.losses), tol, 'per-token losses');
    perToken.dispose();
  }
  tf.dispose([value, ...grads, w, e, c, y, ...(b ? [b] : []), ...(built.w ? [built.w] : [])]);
  return fwd;
}

/**
 * Confident tokens: V = D = 8, class j's row 20·onehot(j) plus noise, token
 * i's embedding onehot(i mod 8) plus noise, so z_y ≈ 20 and every other logit
 * is near 0: lse − z_y ≈ 7·e^−20 ≈ 1e-8, far below float32's ulp at 20
 * (1.9e-6). A z_y computed apart from the values lse was built from can land
 * an ulp above lse and give such a token a negative loss.
 */
export function confidentTokens(n: number, seed: number):
    LceRefInput&{embeddings: Float32Array, classifier: Float32Array, labels: Int32Array} {
  const v = 8, d = 8;
  const rand = seededRandom(seed);
  const classifier = uniformArray(rand, v * d, -0.5, 0.5).map((x, i) => x + (Math.floor(i / d) === i % d ? 20 : 0));
  const labels = Int32Array.from({length: n}, (_, i) => i % v);
  const embeddings =
      uniformArray(rand, n * d, -0.05, 0.05).map((x, i) => x + (labels[Math.floor(i / d)] === i % d ? 1 : 0));
  return {n, v, d, embeddings, classifier, labels};
}
