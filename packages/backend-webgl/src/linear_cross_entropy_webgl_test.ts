/**
 * webgl-only checks of the fused cross-entropy kernels, beyond the shared
 * conformance suite: the registered kernels really run (no composite ops),
 * N×V larger than the largest texture works (naive tfjs cross-entropy cannot
 * even allocate its logits there), the texture pool grows by O(N × chunk),
 * not N×V, no texture outlives a call, a packed classifier is never unpacked,
 * labels outside [0, V) give NaN rows, an absent bias is never read, an
 * all-masked vocabulary gives NaN, the entropy keeps its precision under a
 * large logit offset, and 'dv' with masked classes runs without a transposed
 * copy, with exact zero gradients at masked classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {linearCrossEntropy, SluiceLinearCrossEntropy, SluiceLinearCrossEntropyGrad, SluiceTopOneSuppression} from '@sluice/core';
import {backendTolerance, checkAbsentBiasIsNotRead, checkAllMaskedVocabulary, checkEntropyUnderOffset,
        checkOutOfRangeLabelRows, expectClose, lceKernelAttrs, lceReferenceBackward, lceReferenceForward, randomLabels,
        RefOptions, seededRandom, texturePeakBytesDuring, transposed, uniformArray} from '@sluice/core/testing';

const WEBGL: Constraints = {predicate: env => env.backendName === 'webgl'};

interface WebGLMemory extends tf.MemoryInfo {
  numBytesInGPU: number;
  numBytesInGPUAllocated: number;
}
const gpuMemory = () => tf.memory() as WebGLMemory;

interface WebGLInternals {
  texData: {get(dataId: object): {isPacked?: boolean}};
}
const webgl = () => tf.backend() as unknown as WebGLInternals;

const ALL: RefOptions = {softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1};

/**
 * Float64 per-token loss (plain options) and, for rows `rows` of C and
 * tokens `tokens`, the exact dC and dE of the mean loss, streaming over V so
 * nothing N×V is held (the shared reference keeps N×V logits).
 */
function streamingReference(e: Float32Array, c: Float32Array, y: Int32Array, n: number, v: number, d: number,
                            tokens: number[], rows: number[]) {
  const lse = new Float64Array(n), losses = new Float64Array(n);
  const dot = (i: number, j: number) => {
    let x = 0;
    for (let k = 0; k < d; ++k) x += e[i * d + k] * c[j * d + k];
    return x;
  };
  for (let i = 0; i < n; ++i) {
    let m = -Infinity, s = 0;
    for (let j = 0; j < v; ++j) {
      const z = dot(i, j);
      if (z > m) {
        s = s * Math.exp(m - z) + 1;
        m = z;
      } else {
        s += Math.exp(z - m);
      }
    }
    lse[i] = m + Math.log(s);
    losses[i] = lse[i] - dot(i, y[i]);
  }
  const dE = tokens.map(i => {
    const g = new Float64Array(d);
    for (let j = 0; j < v; ++j) {
      const dz = (Math.exp(dot(i, j) - lse[i]) - (j === y[i] ? 1 : 0)) / n;
      for (let k = 0; k < d; ++k) g[k] += dz * c[j * d + k];
    }
    return g;
  });
  const dC = rows.map(j => {
    const g = new Float64Array(d);
    for (let i = 0; i < n; ++i) {
      const dz = (Math.exp(dot(i, j) - lse[i]) - (j === y[i] ? 1 : 0)) / n;
      for (let k = 0; k < d; ++k) g[k] += dz * e[i * d + k];
    }
    return g;
  });
  return {losses, dE, dC};
}

/** Registers the suite; test entries that run a 'webgl' env call it. */
export function describeWebGLLinearCrossEntropy() {
  describeWithFlags('sluice webgl kernels', WEBGL, env => {
    const tol = backendTolerance(env.backendName);

    it('are registered, and the op runs them rather than the composite', async () => {
      for (const name of [SluiceLinearCrossEntropy, SluiceLinearCrossEntropyGrad, SluiceTopOneSuppression]) {
        expect(tf.getKernel(name, 'webgl')).withContext(name).toBeDefined();
      }
      const e = tf.randomNormal([8, 5]) as tf.Tensor2D, c = tf.randomNormal([11, 5]) as tf.Tensor2D;
      const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 10], 'int32');
      const profile = await tf.profile(() => tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y) as tf.Scalar)([e, c]));
      expect(profile.kernelNames).toContain(SluiceLinearCrossEntropy);
      expect(profile.kernelNames).toContain(SluiceLinearCrossEntropyGrad);
      expect(profile.kernelNames).not.toContain('BatchMatMul');  // the composite's matmuls
    });

    it('leave no texture in use after forward and backward', async () => {
      const rand = seededRandom(5);
      const n = 40, v = 300, d = 9;
      const e = tf.tensor2d(uniformArray(rand, n * d), [n, d]), c = tf.tensor2d(uniformArray(rand, v * d), [v, d]);
      const b = tf.tensor1d(uniformArray(rand, v)), y = tf.tensor1d(randomLabels(rand, n, v, -100, 0.2), 'int32');
      const options = {bias: b, softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1, vocabChunk: 64};
      // Upload the inputs first, so only the call's own textures are counted.
      await Promise.all([e, c, b, y].map(t => tf.add(t, 0).data()));
      tf.dispose(tf.tidy(() => tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, options) as tf.Scalar)([e, c])));
      const before = gpuMemory();
      const grads = tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, options) as tf.Scalar)([e, c]);
      await Promise.all(grads.map(g => g.data()));
      tf.dispose(grads);
      const after = gpuMemory();
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numBytesInGPU).withContext('bytes of textures in use').toBe(before.numBytesInGPU);
    });

    it('handle N×V beyond the largest texture in O(N × chunk) texture memory', async () => {
      const maxTex = tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
      const n = 4096, d = 4;
      const v = Math.floor(maxTex * maxTex / n) + 1000;  // N×V > maxTex²: no [N, V] texture can exist
      if (v > 140_000) {
        pending(`WEBGL_MAX_TEXTURE_SIZE ${maxTex} needs V = ${v}: too slow for a software GPU`);
      }
      const rand = seededRandom(7);
      const eValues = Float32Array.from(uniformArray(rand, n * d));
      const cValues = Float32Array.from(uniformArray(rand, v * d));
      const yValues = Int32Array.from(randomLabels(rand, n, v, -100, 0));
      const e = tf.tensor2d(eValues, [n, d]), c = tf.tensor2d(cValues, [v, d]), y = tf.tensor1d(yValues, 'int32');
      await Promise.all([e, c].map(t => tf.add(t, 0).data()));  // inputs on the GPU before measuring
      const before = gpuMemory();
      const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor) =>
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y) as tf.Scalar)([e, c]);
      const perToken = linearCrossEntropy(e, c, y, {reduction: 'none'});
      const [loss, dE, dC, losses] = await Promise.all([value.data(), grads[0].data(), grads[1].data(),
                                                       perToken.data()]);
      const grown = gpuMemory().numBytesInGPUAllocated - before.numBytesInGPUAllocated;
      const logitsBytes = n * v * 4;
      // The pool keeps every texture it ever made, so its growth bounds the peak from above.
      console.log(`  N=${n}, V=${v}, D=${d} (max texture ${maxTex}): texture pool grew by ` +
                  `${(grown / 2 ** 20).toFixed(1)} MiB; the N×V logits alone would be ${(logitsBytes / 2 ** 20).toFixed(1)} MiB`);
      expect(grown).withContext(`texture pool grew by ${grown} bytes; N×V logits are ${logitsBytes}`)
          .toBeLessThan(logitsBytes / 2);

      const tokens = [0, 1, 2047, 4095], rows = [0, yValues[0], Math.floor(v / 2), v - 1];
      const ref = streamingReference(eValues, cValues, yValues, n, v, d, tokens, rows);
      expectClose(losses, ref.losses, tol, 'per-token losses');
      expectClose(loss, [ref.losses.reduce((a, l) => a + l, 0) / n], tol, 'mean loss');
      tokens.forEach((i, t) => expectClose(dE.slice(i * d, (i + 1) * d), ref.dE[t], tol, `dE[${i}]`));
      rows.forEach((j, t) => expectClose(dC.slice(j * d, (j + 1) * d), ref.dC[t], tol, `dC[${j}]`));
      tf.dispose([e, c, y, value, perToken, ...grads]);
    });

    // An optimizer update leaves the weights as a packed op's output. Reading the classifier through an
    // unpacked sampler would make tfjs unpack all of it on every forward (256 MiB at V=262144, D=256).
    it('read a packed classifier as is: no [V, D]-sized texture appears during the forward', async () => {
      const n = 8, v = 2048, d = 64;  // [V, D]: 512 KiB; the [N, V] logits: 64 KiB
      const rand = seededRandom(41);
      const eValues = uniformArray(rand, n * d), aValues = uniformArray(rand, v * d, -0.5, 0.5);
      const bValues = uniformArray(rand, v * d, -0.5, 0.5);
      const labels = randomLabels(rand, n, v, -100, 0.25);
      const e = tf.tensor2d(eValues, [n, d]), y = tf.tensor1d(labels, 'int32');
      const a = tf.tensor2d(aValues, [v, d]), b = tf.tensor2d(bValues, [v, d]);
      const c = tf.add(a, b) as tf.Tensor2D;
      await c.data();
      expect(webgl().texData.get(c.dataId).isPacked).withContext('the classifier texture is packed').toBe(true);
      const classifierBytes = v * d * 4;
      // The measure itself: an unpacked program reading the classifier (gather) does unpack it whole.
      const control = await texturePeakBytesDuring(async () => {
        const row = tf.gather(c, [0]);
        await row.data();
        row.dispose();
      });
      expect(control.peakBytes).withContext('texture peak of an unpacked read').toBeGreaterThanOrEqual(classifierBytes);
      const options = {...ALL, reduction: 'none', returnEntropy: true} as const;
      const {result, peakBytes} = await texturePeakBytesDuring(async () => {
        const r = linearCrossEntropy(e, c, y, options);
        await Promise.all([r.loss.data(), r.entropy.data()]);
        return r;
      });
      console.log(`  packed classifier [${v}, ${d}] (${classifierBytes / 1024} KiB): the forward's texture peak ` +
                  `${(peakBytes / 1024).toFixed(1)} KiB; an unpacked gather's ${(control.peakBytes / 1024).toFixed(1)} KiB`);
      expect(peakBytes).withContext('texture peak of the forward (bytes)').toBeLessThan(classifierBytes / 2);
      const classifier = Float32Array.from(aValues, (x, i) => Math.fround(x + bValues[i]));
      const fwd = lceReferenceForward({n, d, v, embeddings: eValues, classifier, labels, ...ALL});
      expectClose(await result.loss.data(), fwd.losses, tol, 'per-token losses');
      expectClose(await result.entropy.data(), fwd.entropy, tol, 'entropy');
      tf.dispose([result.loss, result.entropy, e, y, a, b, c]);
    });

    // On webgl the op reads labels back and rejects out-of-range ones, so such a label only reaches
    // the kernels when called directly (as another op, or a future GPU-resident path, may): the
    // kernels must then make its row NaN (loss and dEmbeddings row), never a finite loss.
    it('give NaN loss and dEmbeddings rows for labels outside [0, V) that reach the kernels', () =>
       checkOutOfRangeLabelRows({...ALL}, tol, ({e, c, b, labels, options}) => {
         const attrs = lceKernelAttrs({...options, vocabChunk: 2}) as unknown as tf.NamedAttrMap;
         const engine = tf.engine();
         const [losses, lse, argmax, entropy] = engine.runKernel(SluiceLinearCrossEntropy,
             {embeddings: e, classifier: c, labels, bias: b}, attrs) as tf.Tensor[];
         const dLosses = tf.ones(labels.shape), dLse = tf.zeros(labels.shape);
         const [dEmbeddings, dClassifier, dBias] = engine.runKernel(SluiceLinearCrossEntropyGrad,
             {dLosses, dLse, embeddings: e, classifier: c, labels, lse, argmax, bias: b}, attrs) as tf.Tensor[];
         return {losses, dEmbeddings, dClassifier, others: [lse, argmax, entropy, dLosses, dLse, dBias]};
       }));

    it("never read the op's zero bias when the caller gave none (hasBias false; one chunk, and chunks of 8)",
       async () => {
         await checkAbsentBiasIsNotRead(tol);
         await checkAbsentBiasIsNotRead(tol, {vocabChunk: 8});
       });

    it('give NaN lse and kept-token losses when every class is masked (plain, every option)', async () => {
      await checkAllMaskedVocabulary(tol);
      await checkAllMaskedVocabulary(tol, {...ALL, vocabChunk: 8});
    });

    it('keep the entropy exact under a shared logit offset of 1e4 (float64 within 2e-4; chunks of 64)', () =>
       checkEntropyUnderOffset(1e4, 2e-4));

    // −Inf travels through textures and tfjs's fused-bias matmul; the programs test it with a sentinel
    // comparison on the pre-cap logit. A masked class must get exactly 0, and 'dv' must run without a
    // transposed copy of the classifier (no Transpose kernel, dClassifier built in [D, V]).
    it("'dv' with masked classes: no Transpose, exact zero gradients of masked classes, float64 values", async () => {
      const n = 9, v = 13, d = 4, masked = [0, 5, 6, 12];
      const rand = seededRandom(23);
      const embeddings = uniformArray(rand, n * d, -2, 2), classifierVD = uniformArray(rand, v * d);
      const bias = uniformArray(rand, v).map((b, j) => masked.includes(j) ? -Infinity : b);
      const classWeights = uniformArray(rand, v, 0.5, 2);
      const labels = [1, 2, 3, 4, 7, 8, 9, 10, -100];
      const classifierDV = transposed(classifierVD, v, d);
      const options = {softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1, vocabChunk: 4};
      const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifierDV, [d, v]), b = tf.tensor1d(bias);
      const w = tf.tensor1d(classWeights), y = tf.tensor1d(labels, 'int32');
      const before = tf.memory().numTensors;
      const run = () => tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => linearCrossEntropy(
          ee as tf.Tensor2D, cc as tf.Tensor2D, y,
          {...options, bias: bb as tf.Tensor1D, classWeights: w, classifierLayout: 'dv', reduction: 'sum'}) as
          tf.Scalar)([e, c, b]);
      const profile = await tf.profile(() => tf.dispose(run()));
      expect(profile.kernelNames).not.toContain('Transpose');
      expect(profile.kernelNames).toContain(SluiceLinearCrossEntropyGrad);
      const [dE, dC, dB] = run();
      expect(dC.shape).toEqual([d, v]);
      const [dEValues, dCValues, dBValues] = await Promise.all([dE.data(), dC.data(), dB.data()]);
      const ref = {n, d, v, embeddings, classifier: classifierVD, bias, classWeights, labels, ...options};
      const expected = lceReferenceBackward(ref, lceReferenceForward(ref), new Float64Array(n).fill(1));
      for (const j of masked) {
        expect(dBValues[j]).withContext(`dBias[${j}]`).toBe(0);
        for (let k = 0; k < d; ++k) expect(dCValues[k * v + j]).withContext(`dClassifier[${k}, ${j}]`).toBe(0);
      }
      const dCExpected = transposed(expected.dClassifier, v, d);
      expectClose(dEValues, expected.dEmbeddings, tol, 'dEmbeddings');
      expectClose(dCValues, dCExpected, tol, 'dClassifier [D, V]');
      expectClose(dBValues, expected.dBias!, tol, 'dBias');
      tf.dispose([dE, dC, dB]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([e, c, b, w, y]);
    });

    it('topOneSuppression keeps precision under a large shared offset', async () => {
      // max − mean of [1e4 + k] is 2 exactly; Σz/V − max would lose it to float32 rounding.
      const row = Array.from({length: 5}, (_, k) => 1e4 + k);
      const [penalty, argmax] = tf.engine().runKernel(SluiceTopOneSuppression,
                                                      {logits: tf.tensor2d([row, row.slice().reverse()])},
                                                      {alpha: 1}) as tf.Tensor[];
      expectClose(await penalty.data(), [2, 2], 1e-6, 'penalty');
      expect(Array.from(await argmax.data())).toEqual([4, 0]);
    });
  });
}
