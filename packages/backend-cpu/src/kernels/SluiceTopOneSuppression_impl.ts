/**
 * One pass over each row of `logits` [N, V]: the running max, the index where
 * it was first reached (replaced only by a strictly greater value, so ties
 * keep the lowest index) and the row sum, all in float64, which keeps
 * max − sum / V accurate for float32 inputs without a second pass.
 * A NaN poisons the sum, so its row gives NaN (its argmax is then unspecified).
 */
export function topOneSuppressionImpl(logits: ArrayLike<number>, n: number, v: number,
                                      alpha: number): {penalty: Float32Array, argmax: Int32Array} {
  const penalty = new Float32Array(n);
  const argmax = new Int32Array(n);
  for (let i = 0, offset = 0; i < n; ++i, offset += v) {
    let best = logits[offset], bestAt = 0, sum = best;
    for (let j = 1; j < v; ++j) {
      const z = logits[offset + j];
      sum += z;
      if (z > best) {
        best = z;
        bestAt = j;
      }
    }
    penalty[i] = alpha * (best - sum / v);
    argmax[i] = bestAt;
  }
  return {penalty, argmax};
}
