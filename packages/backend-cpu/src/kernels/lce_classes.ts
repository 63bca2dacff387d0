/**
 * The cpu linear cross-entropy kernels' view of the classes beyond core's
 * ClassInfo: the classifier's strides in its layout, and the unmasked column
 * sums that make Σ_U z linear without a softcap.
 */
import type {ClassifierLayout} from '@sluice/core';
import {ClassInfo, maskedInBlock} from '@sluice/core/internal';

import type {Strides} from './lce_tiles';

/** Row j of the classifier is c[j·row + k·col]: [V, D] ('vd') or [D, V] ('dv'). */
export function classifierStrides(layout: ClassifierLayout, v: number, d: number): Strides {
  return layout === 'dv' ? {row: 1, col: v} : {row: d, col: 1};
}

/** Whether any class in [j0, j0 + nj) is masked. */
export function blockHasMask(info: ClassInfo, j0: number, nj: number): boolean {
  return maskedInBlock(info, j0, nj) > 0;
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
