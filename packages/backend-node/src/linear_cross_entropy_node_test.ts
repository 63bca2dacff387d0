/**
 * 'tensorflow'-only checks of the linear cross-entropy kernels: that the
 * bundle's tfjs-core and tfjs-node's own copy share one engine, that the
 * registered kernel is what runs, the argmax output with ties across blocks,
 * gradient filtering (blocks really skipped, results still exact), and the
 * memory bound: no [N, V] tensor at any moment, forward or backward.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfn from '@tensorflow/tfjs-node';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {AUTO_GRAD_FILTER_EPS, linearCrossEntropy, SLUICE_FORCE_COMPOSITE, SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';
import {lceReferenceBackward, lceReferenceForward, LceRefInput} from '@sluice/core/testing';
import {backendTolerance, expectClose, peakBytesDuring, randomLabels, seededRandom, uniformArray} from '@sluice/core/testing';

import type {NodeJSKernelBackend} from './internal';

const TENSORFLOW: Constraints = {predicate: env => env.backendName === 'tensorflow'};

const DEFAULT_ATTRS: SluiceLinearCrossEntropyAttrs = {
  ignoreIndex: -100, softcap: 0, labelSmoothing: 0, zLoss: 0, maxSup: 0, gradFilterEps: 0, vocabChunk: 0,
  hasBias: true, classifierLayout: 'vd', hasClassWeights: false, computeEntropy: false,
};

interface Problem {
  ref: LceRefInput;
  inputs: {embeddings: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D, bias: tf.Tensor1D};
}

function problem(ref: LceRefInput): Problem {
  const bias = ref.bias ?? new Float64Array(ref.v);
  return {
    ref,
    inputs: {
      embeddings: tf.tensor2d(Float32Array.from(ref.embeddings), [ref.n, ref.d]),
      classifier: tf.tensor2d(Float32Array.from(ref.classifier), [ref.v, ref.d]),
      labels: tf.tensor1d(Int32Array.from(ref.labels), 'int32'),
      bias: tf.tensor1d(Float32Array.from(bias)),
    },
  };
}

function randomProblem(n: number, v: number, d: number, seed: number, options: Partial<LceRefInput> = {}): Problem {
  const rand = seededRandom(seed);
  return problem({n, v, d, embeddings: uniformArray(rand, n * d), classifier: uniformArray(rand, v * d),
                  labels: randomLabels(rand, n, v, -100, 0.1), bias: uniformArray(rand, v, -1, 1), ...options});
}

function refAttrs(ref: LceRefInput, attrs: Partial<SluiceLinearCrossEntropyAttrs>): SluiceLinearCrossEntropyAttrs {
  return {...DEFAULT_ATTRS, softcap: ref.softcap ?? 0, labelSmoothing: ref.labelSmoothing ?? 0, zLoss: ref.zLoss ?? 0,
          maxSup: ref.maxSup ?? 0, ...attrs};
}

function forward(p: Problem, attrs: SluiceLinearCrossEntropyAttrs): tf.Tensor[] {
  return tf.engine().runKernel(SluiceLinearCrossEntropy, p.inputs as unknown as tf.NamedTensorMap,
                               attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

/** The gradient kernel for upstream gradients `dLosses` of the losses and `dLse` of the lse. */
function backward(p: Problem, attrs: SluiceLinearCrossEntropyAttrs, fwd: tf.Tensor[], dLosses: tf.Tensor,
                  dLse: tf.Tensor): tf.Tensor[] {
  const inputs: SluiceLinearCrossEntropyGradInputs = {...p.inputs, dLosses, dLse, lse: fwd[1], argmax: fwd[2]};
  return tf.engine().runKernel(SluiceLinearCrossEntropyGrad, inputs as unknown as tf.NamedTensorMap,
                               attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

/** Counts the TensorFlow ops named `op` that the kernels run during `f`. */
function countOps<T>(op: string, f: () => T): {result: T, count: number} {
  const backend = tf.backend() as unknown as NodeJSKernelBackend;
  const original = backend.executeSingleOutput;
  let count = 0;
  backend.executeSingleOutput = function(name, attrs, inputs) {
    count += name === op ? 1 : 0;
    return original.call(this, name, attrs, inputs);
  };
  try {
    return {result: f(), count};
  } finally {
    backend.executeSingleOutput = original;
  }
}

/** Registers the suite; the Node test entry that runs a 'tensorflow' env calls it. */
export function describeNodeLinearCrossEntropy() {
  describeWithFlags('linearCrossEntropy tensorflow kernels', TENSORFLOW, env => {
    const tol = backendTolerance(env.backendName);

    it('share one engine with tfjs-node\'s own copy of tfjs-core', () => {
      // The test bundle carries tfjs-core's ESM build; tfjs-node requires its CJS build.
      expect(tfn.backend()).toBe(tf.backend());
      expect(tfn.getKernel(SluiceLinearCrossEntropy, 'tensorflow')).toBeDefined();
      expect(tfn.getKernel(SluiceLinearCrossEntropyGrad, 'tensorflow')).toBeDefined();
      const before = tf.memory().numTensors;
      const fromNode = tfn.tensor1d([1, 2]);
      const fromBundle = tf.tensor1d([3, 4]);
      expect(fromNode instanceof tf.Tensor).toBe(true);
      expect(fromBundle instanceof tfn.Tensor).toBe(true);
      expect(tf.memory().numTensors).toBe(before + 2);
      expect(tfn.memory().numTensors).toBe(before + 2);
      tf.env().set(SLUICE_FORCE_COMPOSITE, true);
      expect(tfn.env().getBool(SLUICE_FORCE_COMPOSITE)).toBe(true);
      tf.env().set(SLUICE_FORCE_COMPOSITE, false);
      tf.dispose([fromNode, fromBundle]);
    });

    it('run instead of the composite unless the composite is forced', async () => {
      const {inputs} = randomProblem(6, 9, 4, 1);
      const lossOf = (e: tf.Tensor, c: tf.Tensor) =>
          linearCrossEntropy(e as tf.Tensor2D, c as tf.Tensor2D, inputs.labels) as tf.Scalar;
      const kernelsOf = async () =>
          (await tf.profile(() => tf.grads(lossOf)([inputs.embeddings, inputs.classifier]))).kernels.map(k => k.name);
      const registered = await kernelsOf();
      expect(registered).toContain(SluiceLinearCrossEntropy);
      expect(registered).toContain(SluiceLinearCrossEntropyGrad);
      tf.env().set(SLUICE_FORCE_COMPOSITE, true);
      const composite = await kernelsOf();
      tf.env().set(SLUICE_FORCE_COMPOSITE, false);
      expect(composite).not.toContain(SluiceLinearCrossEntropy);
      expect(composite).toContain('BatchMatMul');  // the composite's stock tfjs ops
    });

    it('return every token\'s argmax, the first index on ties within and across blocks', async () => {
      // Rows 1, 5, 6 and 9 of C are equal: for tokens aligned with that row the
      // maximum is tied within block [4, 8) and across blocks 0, 1 and 2.
      const d = 3, v = 11, n = 7;
      // Integer-valued dot products (10) are exact in any summation order, so the tie is exact too.
      const classifier = uniformArray(seededRandom(2), v * d, -0.5, 0.5);
      for (const row of [5, 6, 9, 1]) {
        classifier.set([2, -1, 1], row * d);
      }
      const embeddings = uniformArray(seededRandom(3), n * d);
      embeddings.set([3, -2, 2, 3, -2, 2], 0);  // tokens 0 and 1 point along the tied row
      const p = problem({n, v, d, embeddings, classifier, labels: [0, 1, 2, 3, 4, 5, 10]});
      const ref = lceReferenceForward(p.ref);
      expect(ref.argmax[0]).toBe(1);
      for (const vocabChunk of [0, 4, 1]) {
        const [losses, lse, argmax] = forward(p, {...DEFAULT_ATTRS, vocabChunk});
        expect(argmax.dtype).toBe('int32');
        expect(Array.from(await argmax.data())).withContext(`vocabChunk ${vocabChunk}`).toEqual(Array.from(ref.argmax));
        expectClose(await lse.data(), ref.lse, tol, `lse, vocabChunk ${vocabChunk}`);
        expectClose(await losses.data(), ref.losses, tol, `losses, vocabChunk ${vocabChunk}`);
        tf.dispose([losses, lse, argmax]);
      }
    });

    // Blocks of 50 over V = 300; bias −80 makes every block but the first one
    // negligible for every token, yet some labels fall in those blocks.
    for (const [name, options] of [
             ['plain logits, label smoothing and maxSup', {labelSmoothing: 0.1, maxSup: 0.2}],
             ['softcapped logits', {softcap: 100}],
    ] as Array<[string, Partial<LceRefInput>]>) {
      it(`skip negligible blocks under gradient filtering and stay exact (${name})`, async () => {
        const n = 20, v = 300, d = 6;
        const bias = new Float64Array(v).map((_, j) => j < 50 ? 0 : -80);
        const labels = randomLabels(seededRandom(4), n, 50, -100, 0.1).map((y, i) => i % 7 === 3 ? 120 + i : y);
        const p = randomProblem(n, v, d, 5, {bias, labels, ...options});
        const fwdRef = lceReferenceForward(p.ref);
        const weights = uniformArray(seededRandom(6), n, 0.5, 1.5);
        const expected = lceReferenceBackward(p.ref, fwdRef, weights);
        const dLosses = tf.tensor1d(weights), dLse = tf.zeros([n]);
        const matMuls: number[] = [];
        for (const gradFilterEps of [AUTO_GRAD_FILTER_EPS, 0]) {
          const attrs = refAttrs(p.ref, {vocabChunk: 50, gradFilterEps});
          const fwd = forward(p, attrs);
          const {result: grads, count} = countOps('MatMul', () => backward(p, attrs, fwd, dLosses, dLse));
          matMuls.push(count);
          expectClose(await grads[0].data(), expected.dEmbeddings, tol, `dEmbeddings, eps ${gradFilterEps}`);
          expectClose(await grads[1].data(), expected.dClassifier, tol, `dClassifier, eps ${gradFilterEps}`);
          expectClose(await grads[2].data(), expected.dBias, tol, `dBias, eps ${gradFilterEps}`);
          tf.dispose([...fwd, ...grads]);
        }
        // A block costs 3 matmuls, a skipped one 1: 5 of the 6 blocks are skipped.
        expect(matMuls[1] - matMuls[0]).toBe(5 * 2);
      });
    }

    it('hold no [N, V] tensor at any moment, forward or backward', async () => {
      const n = 64, v = 40000, d = 2;
      const p = randomProblem(n, v, d, 7, {labelSmoothing: 0.1, maxSup: 0.1, zLoss: 1e-3});
      const logitsBytes = n * v * 4;
      for (const softcap of [0, 5]) {
        const attrs = refAttrs({...p.ref, softcap}, {vocabChunk: 500});
        const fwd = await peakBytesDuring(() => forward(p, attrs));
        const bwd = await peakBytesDuring(() => backward(p, attrs, fwd.result, fwd.result[1], fwd.result[1]));
        // Each holds its outputs, [V, D]-sized copies and a few [N, 500] blocks: 4 × 4 × N × 500 B = 2 MB.
        expect(fwd.peakBytes).withContext(`forward, softcap ${softcap}`).toBeLessThan(logitsBytes / 4);
        expect(bwd.peakBytes).withContext(`backward, softcap ${softcap}`).toBeLessThan(logitsBytes / 4);
        tf.dispose([...fwd.result, ...bwd.result]);
      }
    });

    it('leak no tensors on the fast paths (N = 0, V = 1, single block)', () => {
      const before = tf.memory().numTensors;
      for (const [n, v] of [[0, 5], [3, 1], [4, 9]]) {
        const p = randomProblem(n, v, 2, 8);
        const fwd = forward(p, DEFAULT_ATTRS);
        const upstream = [tf.onesLike(fwd[0]), tf.onesLike(fwd[1])];
        const grads = backward(p, {...DEFAULT_ATTRS, maxSup: 0.1, labelSmoothing: 0.1}, fwd, upstream[0], upstream[1]);
        expect(grads.map(g => g.shape)).toEqual([[n, 2], [v, 2], [v]]);
        tf.dispose([...fwd, ...upstream, ...grads, ...Object.values(p.inputs)]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

