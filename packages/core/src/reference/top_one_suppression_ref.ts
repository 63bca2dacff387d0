/**
 * Float64 reference of topOneSuppression, written the obvious way (max, then
 * the mean, then their difference) so it shares nothing with the kernels.
 */
export interface TopOneRefForward {
  penalty: Float64Array;  // [N]
  argmax: Int32Array;     // [N] first index of the max; -1 when the row holds a NaN
}

export function topOneSuppressionReferenceForward(logits: ArrayLike<number>, n: number, v: number,
                                                  alpha: number): TopOneRefForward {
  const penalty = new Float64Array(n), argmax = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    const row = Array.from({length: v}, (_, j) => logits[i * v + j]);
    if (row.some(Number.isNaN)) {
      penalty[i] = NaN;
      argmax[i] = -1;
      continue;
    }
    const best = Math.max(...row);
    argmax[i] = row.indexOf(best);
    penalty[i] = alpha * (best - row.reduce((a, b) => a + b, 0) / v);
  }
  return {penalty, argmax};
}

/** dLogits [N, V] for upstream gradients `dPenalty` [N]. */
export function topOneSuppressionReferenceBackward(fwd: TopOneRefForward, v: number, alpha: number,
                                                   dPenalty: ArrayLike<number>): Float64Array {
  const n = fwd.argmax.length;
  const out = new Float64Array(n * v);
  for (let i = 0; i < n; ++i) {
    for (let j = 0; j < v; ++j) {
      out[i * v + j] = alpha * dPenalty[i] * ((j === fwd.argmax[i] ? 1 : 0) - 1 / v);
    }
  }
  return out;
}
