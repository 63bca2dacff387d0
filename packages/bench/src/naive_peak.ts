/**
 * What naive tfjs cross-entropy (matMul + tf.losses.softmaxCrossEntropy on
 * one-hot labels, through tf.grads) holds at its peak, estimated before it
 * runs so that a shape which would not fit in memory is reported instead of
 * run. Traced on tfjs 4.22.0 (cpu and tensorflow backends, the same graph):
 * the tensors alive at the peak, beyond the inputs, are
 *   - the one-hot labels and the log-softmax, which softmaxCrossEntropy's
 *     custom gradient saves (the logits and the one-hot themselves are freed
 *     when the forward returns): 2 [N, V];
 *   - that custom gradient's two results, the logits' gradient and the labels'
 *     one, which nothing asks for but tfjs computes, each as cast(labels),
 *     exp(log-softmax), a subtraction and a product with dy: 8 [N, V], all
 *     alive until tf.grads returns;
 *   - matMul's gradients dE [N, D] and dC [V, D], and the tape's handles on E
 *     and C (clones sharing their data, which tfjs counts again).
 * So 4 B · (10·N·V + 2·V·D + 2·N·D), the count peakBytesDuring reports (within
 * a few N-sized vectors; the bench prints measured beside estimated wherever
 * naive runs). Physically it is the same to within the two clones: on
 * tensorflow at N=4096 D=256 V=8192 and 16384 the process's resident set
 * (VmHWM) rose by 10.1 N·V·4 B.
 */
import type {CceShape} from './cce_shapes';

export function naivePeakBytes({n, d, v}: CceShape): number {
  return 4 * (10 * n * v + 2 * v * d + 2 * n * d);
}

/** The three products a fused forward + backward cannot avoid, E·Cᵀ [N, V] alive while G·C and Gᵀ·E run. */
export function matMulFloorPeakBytes({n, d, v}: CceShape): number {
  return 4 * (n * v + v * d + n * d);
}

export const GiB = 2 ** 30;

/** What a memory-bound variant may use: --mem-budget GiB, else 75% of what the OS reports available now. */
export function memoryBudget(flagGiB: number|undefined, availableBytes: number): {bytes: number, doc: string} {
  if (flagGiB != null) return {bytes: flagGiB * GiB, doc: `--mem-budget ${flagGiB} GiB`};
  return {bytes: 0.75 * availableBytes,
          doc: `75% of the ${(availableBytes / GiB).toFixed(1)} GiB available at start`};
}
