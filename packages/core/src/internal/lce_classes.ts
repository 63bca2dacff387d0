/**
 * What a linear cross-entropy kernel that reads the bias and classWeights on
 * the host (cpu, tensorflow) needs to know about the classes, read once per
 * call: which are masked (bias −Inf), the weights, V_u and S = Σ_U w
 * (definitions in kernel_names.ts).
 */
export interface ClassInfo {
  /** 1 at masked classes; null when none is masked (the common case, which keeps the plain paths). */
  masked: Uint8Array|null;
  /** null: all ones (no classWeights). */
  weights: Float32Array|null;
  /** V_u, the number of unmasked classes. */
  unmaskedCount: number;
  /** S = Σ over unmasked classes of w. */
  weightSum: number;
}

export function classInfo(bias: ArrayLike<number>, weights: Float32Array|null, v: number): ClassInfo {
  let masked: Uint8Array|null = null;
  let unmaskedCount = 0, weightSum = 0;
  for (let j = 0; j < v; ++j) {
    if (bias[j] === -Infinity) {
      masked = masked ?? new Uint8Array(v);
      masked[j] = 1;
    } else {
      ++unmaskedCount;
      weightSum += weights ? weights[j] : 1;
    }
  }
  return {masked, weights, unmaskedCount, weightSum};
}

/** How many classes of [j0, j0 + nj) are masked. */
export function maskedInBlock(info: ClassInfo, j0: number, nj: number): number {
  if (info.masked == null) return 0;
  let count = 0;
  for (let j = j0; j < j0 + nj; ++j) count += info.masked[j];
  return count;
}
