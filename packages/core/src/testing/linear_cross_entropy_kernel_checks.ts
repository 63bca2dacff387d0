/**
 * Checks of the fused cross-entropy kernels that the GPU backends run from
 * their own test files (webgl, webgpu), each against the float64 reference:
 * labels outside [0, V) that reach the kernels, an absent bias (the op's
 * zeros, attrs.hasBias false) that must not be read, a vocabulary whose
 * every class is masked, and the entropy under a large shared logit offset.
 */
import * as tf from '@tensorflow/tfjs-core';

import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyGrad} from '../kernel_names';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import type {LinearCrossEntropyOptions} from '../ops/linear_cross_entropy_options';
import {lceReferenceBackward, lceReferenceForward, LceRefInput} from '../reference/linear_cross_entropy_ref';

import {expectClose} from './expect_close';
import type {RefOptions} from './linear_cross_entropy_cases';
import {seededRandom, uniformArray} from './random';

/** The kernel attrs of a direct call, as the op would pass them. */
export function lceKernelAttrs(over: Partial<SluiceLinearCrossEntropyAttrs> = {}): SluiceLinearCrossEntropyAttrs {
  return {ignoreIndex: -100, softcap: 0, labelSmoothing: 0, zLoss: 0, maxSup: 0, gradFilterEps: 0, vocabChunk: 0,
          hasBias: true, classifierLayout: 'vd', hasClassWeights: false, computeEntropy: false, ...over};
}

/** What a backend's way of running the problem gives back: per-token losses and the gradients of their sum. */
export interface OutOfRangeRun {
  losses: tf.Tensor;
  dEmbeddings: tf.Tensor;
  dClassifier: tf.Tensor;
  /** Anything else the run made, disposed by the check. */
  others?: tf.Tensor[];
}

/** The problem an out-of-range run gets: labels on the device, two of them outside [0, V). */
export interface OutOfRangeProblem {
  e: tf.Tensor2D; c: tf.Tensor2D; b: tf.Tensor1D;
  labels: tf.Tensor1D;
  options: RefOptions;
}

const OOR_LABELS = [1, 7, -3, -100, 4, 0];
const OOR_ROWS = [1, 2];

/**
 * Labels outside [0, V) that reach the kernels (device-resident, or a direct
 * kernel call) make their rows NaN (loss and dEmbeddings row), never a finite
 * loss that treats the missing label logit as 0; the other rows stay exact,
 * every dClassifier entry (a sum over the tokens) is NaN, and nothing leaks.
 * `run` computes the losses (reduction 'none') and the gradients of their sum.
 */
export async function checkOutOfRangeLabelRows(options: RefOptions, tol: number,
                                               run: (p: OutOfRangeProblem) => OutOfRangeRun|Promise<OutOfRangeRun>) {
  const n = OOR_LABELS.length, v = 5, d = 3;
  const rand = seededRandom(17);
  const embeddings = uniformArray(rand, n * d, -2, 2), classifier = uniformArray(rand, v * d);
  const bias = uniformArray(rand, v);
  const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]), b = tf.tensor1d(bias);
  const hostLabels = tf.tensor1d(OOR_LABELS, 'int32');
  const labels = tf.add(hostLabels, tf.scalar(0, 'int32')) as tf.Tensor1D;  // computed on the device
  const before = tf.memory().numTensors;
  const out = await run({e, c, b, labels, options});
  // Reference: the out-of-range rows ignored, so the others can be compared.
  const ref: LceRefInput = {n, d, v, embeddings, classifier, bias, ...options,
                            labels: OOR_LABELS.map((y, i) => OOR_ROWS.includes(i) ? -100 : y)};
  const fwd = lceReferenceForward(ref);
  const expected = lceReferenceBackward(ref, fwd, new Float64Array(n).fill(1));
  const [lossValues, dEValues, dCValues] = await Promise.all([out.losses.data(), out.dEmbeddings.data(),
                                                               out.dClassifier.data()]);
  for (let i = 0; i < n; ++i) {
    const row = Array.from(dEValues.slice(i * d, (i + 1) * d));
    if (OOR_ROWS.includes(i)) {
      expect(lossValues[i]).withContext(`loss[${i}] (label ${OOR_LABELS[i]})`).toBeNaN();
      expect(row.every(Number.isNaN)).withContext(`dEmbeddings row ${i}: ${row}`).toBe(true);
    } else {
      expectClose([lossValues[i]], [fwd.losses[i]], tol, `loss[${i}]`);
      expectClose(row, expected.dEmbeddings.slice(i * d, (i + 1) * d), tol, `dEmbeddings row ${i}`);
    }
  }
  expect(Array.from(dCValues).every(Number.isNaN)).withContext('dClassifier all NaN').toBe(true);
  tf.dispose([out.losses, out.dEmbeddings, out.dClassifier, ...(out.others ?? [])]);
  expect(tf.memory().numTensors).withContext('tensors left by the run').toBe(before);
  tf.dispose([e, c, b, hostLabels, labels]);
}

/**
 * attrs.hasBias false (the caller gave no bias; the op passes zeros): the
 * kernels must not read the bias input at all. It is filled with NaN here,
 * so one read would poison every value; forward and backward must equal the
 * float64 reference without a bias, and the backward returns no dBias.
 */
export async function checkAbsentBiasIsNotRead(tol: number, over: Partial<SluiceLinearCrossEntropyAttrs> = {}) {
  const n = 19, v = 45, d = 6;
  const rand = seededRandom(61);
  const embeddings = uniformArray(rand, n * d, -2, 2), classifier = uniformArray(rand, v * d);
  const labels = Int32Array.from({length: n}, (_, i) => i % 5 === 4 ? -100 : Math.floor(rand() * v));
  const attrs = lceKernelAttrs({softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1, computeEntropy: true,
                                ...over, hasBias: false});
  const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]);
  const y = tf.tensor1d(labels, 'int32'), poison = tf.fill([v], NaN) as tf.Tensor1D, w = tf.ones([v]);
  const before = tf.memory().numTensors;
  const engine = tf.engine();
  const [losses, lse, argmax, entropy] = engine.runKernel(SluiceLinearCrossEntropy,
      {embeddings: e, classifier: c, labels: y, bias: poison, classWeights: w},
      attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const dLosses = tf.ones([n]), dLse = tf.zeros([n]);
  const grads = engine.runKernel(SluiceLinearCrossEntropyGrad,
      {dLosses, dLse, embeddings: e, classifier: c, labels: y, lse, argmax, bias: poison, classWeights: w},
      attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const ref: LceRefInput = {n, d, v, embeddings, classifier, labels, softcap: attrs.softcap,
                            labelSmoothing: attrs.labelSmoothing, zLoss: attrs.zLoss, maxSup: attrs.maxSup};
  const fwd = lceReferenceForward(ref);
  const expected = lceReferenceBackward(ref, fwd, new Float64Array(n).fill(1));
  expectClose(await losses.data(), fwd.losses, tol, 'losses');
  expectClose(await lse.data(), fwd.lse, tol, 'lse');
  expectClose(await entropy.data(), fwd.entropy, tol, 'entropy');
  expect(grads.length).withContext('outputs of the backward without a bias (no dBias)').toBe(2);
  expectClose(await grads[0].data(), expected.dEmbeddings, tol, 'dEmbeddings');
  expectClose(await grads[1].data(), expected.dClassifier, tol, 'dClassifier');
  tf.dispose([losses, lse, argmax, entropy, dLosses, dLse, ...grads]);
  expect(tf.memory().numTensors).withContext('tensors left by the kernels').toBe(before);
  tf.dispose([e, c, y, poison, w]);
}

/**
 * Every class masked (bias −Inf everywhere): no class is left to normalise
 * over, so lse is NaN for every token and the loss of every kept token NaN,
 * whatever the options; ignored tokens keep loss 0, and the gradients are
 * the reference's (exactly 0: masked classes take part in nothing).
 */
export async function checkAllMaskedVocabulary(tol: number, options: LinearCrossEntropyOptions = {}) {
  const n = 7, v = 37, d = 5;
  const rand = seededRandom(71);
  const embeddings = uniformArray(rand, n * d, -2, 2), classifier = uniformArray(rand, v * d);
  const labels = Int32Array.from([3, -100, 0, 36, 12, -100, 5]);
  const bias = new Float32Array(v).fill(-Infinity);
  const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]), b = tf.tensor1d(bias);
  const y = tf.tensor1d(labels, 'int32');
  const before = tf.memory().numTensors;
  const o: LinearCrossEntropyOptions = {...options, bias: b, reduction: 'none'};
  const r = linearCrossEntropy(e, c, y, {...o, returnLse: true, returnEntropy: true});
  const [dE, dC] = tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
      tf.sum(linearCrossEntropy(ee, cc, y, o) as tf.Tensor))([e, c]);
  const mean = linearCrossEntropy(e, c, y, {...options, bias: b}) as tf.Tensor;
  const ref: LceRefInput = {n, d, v, embeddings, classifier, labels, bias, softcap: options.softcap,
                            labelSmoothing: options.labelSmoothing, zLoss: options.zLoss, maxSup: options.maxSup};
  const fwd = lceReferenceForward(ref);
  const expected = lceReferenceBackward(ref, fwd, new Float64Array(n).fill(1));
  const [lossValues, lseValues, entropyValues] = await Promise.all([r.loss.data(), r.lse.data(), r.entropy.data()]);
  for (let i = 0; i < n; ++i) {
    const kept = labels[i] !== -100;
    expect(Number.isNaN(fwd.losses[i])).withContext(`reference loss[${i}] NaN`).toBe(kept);
    if (kept) {
      expect(lossValues[i]).withContext(`loss[${i}]`).toBeNaN();
    } else {
      expect(lossValues[i]).withContext(`loss[${i}] (ignored)`).toBe(0);
    }
    expect(lseValues[i]).withContext(`lse[${i}]`).toBeNaN();
    expect(entropyValues[i]).withContext(`entropy[${i}]`).toBeNaN();
  }
  expect((await mean.data())[0]).withContext('mean loss').toBeNaN();
  expectClose(await dE.data(), expected.dEmbeddings, tol, 'dEmbeddings');
  expectClose(await dC.data(), expected.dClassifier, tol, 'dClassifier');
  tf.dispose([r.loss, r.lse, r.entropy, dE, dC, mean]);
  expect(tf.memory().numTensors).withContext('tensors left by the op').toBe(before);
  tf.dispose([e, c, b, y]);
}

/**
 * The entropy at logits offset + O(10) (offset 1e4: float32 resolution there
 * is 2^-10): computed relative to the row max it keeps the precision of the
 * O(1) differences; lse − Σ p·z with absolute logits would lose ~1e-3 to
 * cancellation. The logits are exact float32 (offset + integers + j/1024), and
 * `vocabChunk` splits the vocabulary so the max moves between chunks.
 */
export async function checkEntropyUnderOffset(offset: number, absTol: number, vocabChunk = 64) {
  const n = 8, v = 300, d = 3;
  const rand = seededRandom(81);
  // embeddings [offset / 100, r, 1], classifier [100, s, j / 1024]: z = offset + r·s + j/1024.
  const embeddings = new Float32Array(n * d), classifier = new Float32Array(v * d);
  for (let i = 0; i < n; ++i) {
    embeddings.set([offset / 100, Math.floor(rand() * 7) - 3, 1], i * d);
  }
  for (let j = 0; j < v; ++j) {
    classifier.set([100, Math.floor(rand() * 7) - 3, (j % 1024) / 1024], j * d);
  }
  const labels = Int32Array.from({length: n}, () => Math.floor(rand() * v));
  const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]), y = tf.tensor1d(labels, 'int32');
  const r = linearCrossEntropy(e, c, y, {vocabChunk, reduction: 'none', returnLse: true, returnEntropy: true});
  const fwd = lceReferenceForward({n, d, v, embeddings, classifier, labels});
  const entropy = await r.entropy.data();
  for (let i = 0; i < n; ++i) {
    expect(Math.abs(entropy[i] - fwd.entropy[i])).withContext(
        `entropy[${i}] = ${entropy[i]}, float64 ${fwd.entropy[i]} at logits near ${offset}`).toBeLessThanOrEqual(absTol);
  }
  tf.dispose([r.loss, r.lse, r.entropy, e, c, y]);
}
