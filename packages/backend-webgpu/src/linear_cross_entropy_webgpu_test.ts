/**
 * webgpu-only checks of the linear cross-entropy kernels: the paths that
 * only huge N or V reach on real hardware (classifier rows or [D, V]
 * columns, embeddings and gradients split across bindings, dispatches split
 * across the workgroup limit), forced at small shapes through the budget
 * flags, with every option of the contract; the atomic
 * backward; NaN rows for out-of-range labels on the GPU; and failures that
 * must leave nothing behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {linearCrossEntropy, LinearCrossEntropyOptions, SluiceLinearCrossEntropy, SluiceLinearCrossEntropyGrad} from '@sluice/core';
import {lceReferenceBackward, lceReferenceForward} from '@sluice/core/testing';
import {backendTolerance, expectClose, randomLabels, seededRandom, uniformArray} from '@sluice/core/testing';

import {SLUICE_WEBGPU_GRAD_BLOCK_BYTES, SLUICE_WEBGPU_LCE_BACKWARD, SLUICE_WEBGPU_MAX_BINDING_BYTES,
        SLUICE_WEBGPU_MAX_WORKGROUPS} from './flags_webgpu';

const WEBGPU: Constraints = {predicate: env => env.backendName === 'webgpu'};

interface Setting {
  name: string;
  flags: Record<string, number|string>;
}

// N=150, V=301, D=37: E is 22 KB, C 45 KB. A 4 KiB binding budget splits E
// into 27-row chunks, C into 27-row ranges and every gradient into pieces
// copied into place; 2 workgroups per dimension splits token tiles, vocab
// splits and the columns of the gradient matmuls.
const N = 150, V = 301, D = 37;
const SETTINGS: Setting[] = [
  {name: 'default limits', flags: {}},
  {name: 'bindings of 4 KiB (every operand chunked and copied)',
   flags: {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 4096}},
  {name: '1 workgroup per dispatch dimension', flags: {[SLUICE_WEBGPU_MAX_WORKGROUPS]: 1}},
  {name: 'bindings of 6 KiB, 2 workgroups, 2 KiB dz blocks',
   flags: {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 6144, [SLUICE_WEBGPU_MAX_WORKGROUPS]: 2,
           [SLUICE_WEBGPU_GRAD_BLOCK_BYTES]: 2048}},
  {name: 'atomic backward', flags: {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic'}},
  {name: 'atomic backward, bindings of 4 KiB, 1 workgroup',
   flags: {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic', [SLUICE_WEBGPU_MAX_BINDING_BYTES]: 4096,
           [SLUICE_WEBGPU_MAX_WORKGROUPS]: 1}},
];

function withFlags<T>(flags: Record<string, number|string>, f: () => Promise<T>): Promise<T> {
  const saved = Object.keys(flags).map(k => [k, tf.env().get(k)] as const);
  for (const [k, value] of Object.entries(flags)) {
    tf.env().set(k, value);
  }
  return f().finally(() => saved.forEach(([k, value]) => tf.env().set(k, value)));
}

/** Registers the suite; test entries that run a 'webgpu' env call it. */
export function describeWebGPULinearCrossEntropy() {
describeWithFlags('linearCrossEntropy webgpu kernels', WEBGPU, env => {
  const tol = backendTolerance(env.backendName);

  it('are registered for webgpu', () => {
    expect(tf.getKernel(SluiceLinearCrossEntropy, 'webgpu')).toBeDefined();
    expect(tf.getKernel(SluiceLinearCrossEntropyGrad, 'webgpu')).toBeDefined();
  });

  // Two problems per setting: a [V, D] classifier with every option, and a
  // [D, V] one with masked classes (inside and at the end of the vocabulary),
  // classWeights and every option, whose entropy is checked too.
  const PROBLEMS: Array<{name: string, layout: 'vd'|'dv', masked: Array<[number, number]>, weighted: boolean}> = [
    {name: "all options", layout: 'vd', masked: [], weighted: false},
    {name: "all options, classifier [D, V], masked classes, classWeights", layout: 'dv',
     masked: [[40, 75], [290, 301]], weighted: true},
  ];
  for (const setting of SETTINGS) {
    for (const problem of PROBLEMS) {
      it(`match float64 with ${setting.name} (N=${N}, V=${V}, D=${D}, ${problem.name})`, () =>
         withFlags(setting.flags, async () => {
        const rand = seededRandom(101);
        const isMasked = (j: number) => problem.masked.some(([a, b]) => j >= a && j < b);
        const unmasked = Array.from({length: V}, (_, j) => j).filter(j => !isMasked(j));
        const embeddings = uniformArray(rand, N * D).map(x => 2 * x);
        const classifierVD = uniformArray(rand, V * D);
        const labels = randomLabels(rand, N, unmasked.length, -100, 0.2).map(y => y < 0 ? y : unmasked[y]);
        const bias = uniformArray(rand, V, -1, 1).map((x, j) => isMasked(j) ? -Infinity : x);
        const classWeights = problem.weighted ? uniformArray(rand, V, 0.25, 2) : undefined;
        // [D, V]: element (k, j) is classifierVD[j, k].
        const classifier = problem.layout === 'vd' ? classifierVD :
            Float32Array.from({length: V * D}, (_, i) => classifierVD[(i % V) * D + Math.floor(i / V)]);
        const options = {softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1};
        const ref = {n: N, d: D, v: V, embeddings, classifier, classifierLayout: problem.layout, labels, bias,
                     classWeights, ...options};
        const fwd = lceReferenceForward(ref);
        const e = tf.tensor2d(embeddings, [N, D]);
        const c = tf.tensor2d(classifier, problem.layout === 'vd' ? [V, D] : [D, V]);
        const y = tf.tensor1d(labels, 'int32'), b = tf.tensor1d(bias);
        const cw = classWeights ? tf.tensor1d(classWeights) : undefined;
        const upstream = uniformArray(seededRandom(102), N, 0.5, 1.5);
        const w = tf.tensor1d(upstream);
        const opts: LinearCrossEntropyOptions = {...options, classifierLayout: problem.layout, reduction: 'none',
                                                 ...(cw ? {classWeights: cw} : {})};
        const before = tf.memory().numTensors;
        const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(linearCrossEntropy(ee, cc, y, {...opts, bias: bb}) as tf.Tensor, w)) as tf.Scalar)([e, c, b]);
        const extras = linearCrossEntropy(e, c, y, {...opts, bias: b, returnLse: true, returnEntropy: true});
        const expected = lceReferenceBackward(ref, fwd, upstream);
        expectClose(await value.data(), [fwd.losses.reduce((acc, l, i) => acc + l * upstream[i], 0)], tol, 'loss');
        expectClose(await extras.lse.data(), fwd.lse, tol, 'lse');
        expectClose(await extras.entropy.data(), fwd.entropy, tol, 'entropy');
        expectClose(await grads[0].data(), expected.dEmbeddings, tol, 'dEmbeddings');
        expectClose(await grads[1].data(), expected.dClassifier, tol, 'dClassifier');
        expectClose(await grads[2].data(), expected.dBias, tol, 'dBias');
        tf.dispose([value, ...grads, extras.loss, extras.lse, extras.entropy]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([e, c, y, b, w, ...(cw ? [cw] : [])]);
      }));
    }
  }

  // Labels computed on the GPU are not read back by the op (see core's host_values.ts), so a label
  // outside [0, V) reaches the kernels: its row must be NaN (loss and dEmbeddings row), never a finite
  // loss that treats the missing label logit as 0. The other rows stay exact.
  const OOR_LABELS = [1, 7, -3, -100, 4, 0];
  const OOR_ROWS = [1, 2];
  // Numeric options only: valid for the op (which then returns a tensor) and for the float64 reference alike.
  type OorOptions = Pick<LinearCrossEntropyOptions, 'softcap'|'labelSmoothing'|'zLoss'|'maxSup'>;
  const OOR_CASES: Array<{name: string, options: OorOptions, flags: Record<string, number|string>}> = [
    {name: 'plain (softmax filter on)', options: {}, flags: {}},
    {name: 'all options', options: {softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1}, flags: {}},
    {name: 'plain, atomic backward', options: {}, flags: {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic'}},
    {name: 'all options, 1 workgroup per dimension', options: {softcap: 5, labelSmoothing: 0.1, maxSup: 0.1},
     flags: {[SLUICE_WEBGPU_MAX_WORKGROUPS]: 1}},
  ];
  for (const c of OOR_CASES) {
    it(`give NaN loss and dEmbeddings rows for device-resident labels outside [0, V) (${c.name})`, () =>
       withFlags(c.flags, async () => {
         const n = OOR_LABELS.length, v = 5, d = 3;
         const rand = seededRandom(17);
         const embeddings = uniformArray(rand, n * d, -2, 2), classifier = uniformArray(rand, v * d);
         const bias = uniformArray(rand, v);
         const e = tf.tensor2d(embeddings, [n, d]), cl = tf.tensor2d(classifier, [v, d]), b = tf.tensor1d(bias);
         const hostLabels = tf.tensor1d(OOR_LABELS, 'int32');
         const labels = tf.add(hostLabels, tf.scalar(0, 'int32')) as tf.Tensor1D;  // on the GPU
         const before = tf.memory().numTensors;
         const options = {...c.options, bias: b, reduction: 'none' as const};
         const losses = linearCrossEntropy(e, cl, labels, options);
         const [dE, dC] = tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
             tf.sum(linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, labels, options) as tf.Tensor))([e, cl]);
         // Reference: the out-of-range rows ignored, so the others can be compared.
         const ref = {n, d, v, embeddings, classifier, bias, ...c.options,
                      labels: OOR_LABELS.map((y, i) => OOR_ROWS.includes(i) ? -100 : y)};
         const fwd = lceReferenceForward(ref);
         const expected = lceReferenceBackward(ref, fwd, new Float64Array(n).fill(1));
         const [lossValues, dEValues, dCValues] = await Promise.all([losses.data(), dE.data(), dC.data()]);
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
         // Every class's gradient sums over the tokens, the NaN rows included.
         expect(Array.from(dCValues).every(Number.isNaN)).withContext('dClassifier all NaN').toBe(true);
         tf.dispose([losses, dE, dC]);
         expect(tf.memory().numTensors).toBe(before);
         tf.dispose([e, cl, b, hostLabels, labels]);
       }));
  }

  it('fails with the attempted shape and frees every buffer when one row exceeds the binding budget', () =>
     withFlags({[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 64}, async () => {
       const e = tf.ones([5, 40]) as tf.Tensor2D, c = tf.ones([7, 40]) as tf.Tensor2D;
       const y = tf.tensor1d([0, 1, 2, 3, 4], 'int32');
       const gpu = tf.backend() as unknown as {memory(): {numBytesInGPU: number}};
       await tf.ready();
       const tensors = tf.memory().numTensors, bytes = gpu.memory().numBytesInGPU;
       expect(() => linearCrossEntropy(e, c, y)).toThrowError(
           /SluiceLinearCrossEntropy \(webgpu\) failed for N=5, D=40, V=7: .*binding limit \(64 bytes\)/);
       expect(tf.memory().numTensors).toBe(tensors);
       expect(gpu.memory().numBytesInGPU).toBeLessThanOrEqual(bytes);
       tf.dispose([e, c, y]);
     }));
});
}
