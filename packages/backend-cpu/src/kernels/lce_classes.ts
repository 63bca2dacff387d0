/**
 * What the cpu linear cross-entropy kernels need to know about the classes,
 * read once per call: which are masked (bias −Inf), the classWeights, V_u and
 * S = Σ_{unmasked} w, and the classifier's strides in its layout.
 */
import type {ClassifierLayout} from '@sluice/core';

import type {Strides} from './lce_tiles';

export interface ClassInfo {
  /** 1 at masked classes; null when none is masked (the common case, which keeps the plain loops). */
  masked: Uint8Array|null;
  /** null: all ones (no classWeights). */
  weights: Float32Array|null;
  /** V_u, the number of unmasked classes. */
  unmaskedCount: number;
  /** S = Σ over unmasked classes of w. */
  weightSum: number;
}

export function classInfo(bias: Float32Array, weights: Float32Array|null, v: number): ClassInfo {
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

/** Whether any class in [j0, j0 + nj) is masked. */
export function blockHasMask(info: ClassInfo, j0: number, nj: number): boolean {
  if (info.masked == null) return false;
  for (let j = j0; j < j0 + nj; ++j) {
    if (info.masked[j]) return true;
  }
  return false;
}

/** Row j of the classifier is c[j·row + k·col]: [V, D] ('vd') or [D, V] ('dv'). */
export function classifierStrides(layout: ClassifierLayout, v: number, d: number): Strides {
  return layout === 'dv' ? {row: 1, col: v} : {row: d, col: 1};
}

/**
 * Σ_j coef_j · c[j, :] and Σ_j coef_j · bias_j over the unmasked classes, in
 * float64, with coef_j = w_j (weighted) or 1: the linear sums Σ_U z and
 * Σ_U w·z are e · (the first) + (the second) without a softcap.
 */
export function unmaskedColumnSums(c: Float32Array, strides: Strides, bias: Float32Array, info: ClassInfo, v: number,
                                   d: number, weighted: boolean): {columns: Float64Array, bias: number} {
  const columns = new Float64Array(d);
  let biasSum = 0;
  for (let j = 0; j < v; ++j) {
    if (info.masked?.[j]) continue;
    const coef = weighted && info.weights ? info.weights[j] : 1;
    for (let k = 0, q = j * strides.row; k < d; ++k, q += strides.col) columns[k] += coef * c[q];
    biasSum += coef * bias[j];
  }
  return {columns, bias: biasSum};
}
