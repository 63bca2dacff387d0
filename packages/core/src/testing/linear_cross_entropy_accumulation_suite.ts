/**
 * Accumulation (issue 18.6): at V = 262,144 with logits spread over ±30,
 * every kernel's float32 (or wider) reductions must keep the per-token loss
 * and lse within a stated tolerance of float64. Each kernel documents its
 * order at the top of its file; this suite checks the result on every env,
 * through the kernels and the composite. N is 16 on cpu and tensorflow and 4
 * on the GPU backends (software GPUs in CI).
 *
 * Tolerance, |actual − float64| <= tol · max(1, max over tokens |float64|)
 * (expectClose's scale; losses and lse here are ~10-30): tol = 1e-5 on cpu
 * and tensorflow, 2e-4 on the GPU backends. A float32 sum of 262,144 terms
 * in the worst (sequential) order has a relative error bound of V·ε/2 ≈
 * 1.6e-2; blocked online sums stay near √V·ε ≈ 3e-5 and far below it when,
 * as with logits over ±30, a few terms hold most of the mass. The flat case
 * (logits within ±1, every term of the same size) is the one that exercises
 * the summation order. The largest error seen is printed with each run.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SluiceLinearCrossEntropy} from '../kernel_names';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import {lceReferenceForward, LceRefInput} from '../reference/linear_cross_entropy_ref';

import {expectClose} from './expect_close';
import {describeKernelAndComposite} from './kernel_and_composite';
import {randomLabels, seededRandom, uniformArray} from './random';

export const ACCUMULATION_VOCAB = 262144;
/** The stated tolerance per backend (see above). */
export function accumulationTolerance(backendName: string): number {
  return backendName === 'cpu' || backendName === 'tensorflow' ? 1e-5 : 2e-4;
}

/** max |actual − expected| / max(1, max |expected|): the measure expectClose bounds. */
function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0, scale = 1;
  for (let i = 0; i < expected.length; ++i) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

export function describeLinearCrossEntropyAccumulation(constraints: Constraints = ALL_ENVS) {
  describeKernelAndComposite('linearCrossEntropy accumulation', [SluiceLinearCrossEntropy], constraints,
                             (env, composite) => {
    const gpu = env.backendName === 'webgl' || env.backendName === 'webgpu';
    const n = gpu ? 4 : 16, v = ACCUMULATION_VOCAB, d = 8;
    const tol = accumulationTolerance(env.backendName);
    for (const [name, spread, options] of [
             ['logits over ±30', 29, {}],
             ['logits over ±30, smoothing 0.1, z-loss 1e-4, maxSup 0.1', 29, {labelSmoothing: 0.1, zLoss: 1e-4, maxSup: 0.1}],
             ['flat logits within ±1 (every term of Σexp counts)', 0.5, {labelSmoothing: 0.1, maxSup: 0.1}],
    ] as Array<[string, number, Pick<LceRefInput, 'labelSmoothing'|'zLoss'|'maxSup'>]>) {
      it(`V = 262,144, ${name}: loss and lse within ${tol} of float64 (N=${n})`, async () => {
           const rand = seededRandom(181);
           // The bias spreads the logits; e·c adds up to ±1/2 of token-dependent structure.
           const embeddings = uniformArray(rand, n * d, -0.25, 0.25), classifier = uniformArray(rand, v * d, -0.25, 0.25);
           const bias = uniformArray(rand, v, -spread, spread);
           const labels = randomLabels(rand, n, v, -100, 0);
           const ref: LceRefInput = {n, v, d, embeddings, classifier, labels, bias, ...options};
           const fwd = lceReferenceForward(ref);
           const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]);
           const y = tf.tensor1d(labels, 'int32'), b = tf.tensor1d(bias);
           const {loss, lse} = linearCrossEntropy(e, c, y, {...options, bias: b, reduction: 'none', returnLse: true});
           const losses = await loss.data(), lses = await lse.data();
           console.log(`  note: accumulation on ${env.backendName} (${composite ? 'composite' : 'kernel or composite'}), ` +
                       `${name}: max relative error loss ${maxRelativeError(losses, fwd.losses).toExponential(2)}, ` +
                       `lse ${maxRelativeError(lses, fwd.lse).toExponential(2)} (tolerance ${tol})`);
           expectClose(losses, fwd.losses, tol, 'per-token losses');
           expectClose(lses, fwd.lse, tol, 'lse');
           tf.dispose([e, c, y, b, loss, lse]);
         });
    }
  });
}
