/**
 * Backward of the fused linear cross-entropy. Per token, dL/dz over the
 * vocabulary is (kernel_names.ts, SluiceLinearCrossEntropyGrad)
 *   s·softmax(z) + uS·(w⊙u) + uM·u − l·onehot(label) + m·onehot(argmax)
 * with u the unmasked-class indicator, w the class weights, g the upstream
 * gradient of kept tokens (0 for ignored ones, NaN for a kept label outside
 * [0, V), which makes its row NaN), w_y its label's weight, V_u = Σu, S = Σ w⊙u:
 *   s = g·w_y·(1 − ls + 2·zLoss·lse) + g·ls·S/V_u + dLse,
 *   uS = −g·ls/V_u, uM = −g·w_y·maxSup/V_u, l = g·w_y·(1 − ls), m = g·w_y·maxSup.
 * Only the softmax term is dense and data dependent: it is recomputed tile
 * by tile, and a tile whose probabilities are all below `gradFilterEps` is
 * skipped (Cut Cross-Entropy's gradient filtering). The one-hot terms are
 * applied as N sparse row updates. Without softcap the uniform terms are rank
 * two (dE += uS·Σ(w⊙u)C + uM·ΣuC, dC += (w⊙u)·Σ uS·e + u·Σ uM·e) and cost
 * O((N + V)·D); with softcap they are scaled by the cap's derivative per
 * element, so they are folded into the tiles, which then cannot be skipped.
 * Masked classes get exactly 0 (their dClassifier rows and dBias entries).
 * Without a real bias (attrs.hasBias false) dBias is not accumulated: zeros.
 *
 * Accumulation (issue 18.6): JS numbers (float64) in every sum, stored in
 * float32 gradients: dE and dC accumulate tile after tile, vocabulary blocks
 * (128, or vocabChunk) in the outer loop and token blocks of 64 inside, each
 * tile product over its block in increasing index; the rank-two column sums
 * over j in increasing order, then the sparse label and argmax rows in token
 * order.
 */
import type {SluiceLinearCrossEntropyAttrs} from '@sluice/core';

import {classInfo} from '@sluice/core/internal';

import {blockHasMask, classifierStrides, unmaskedColumnSums} from './lce_classes';
import {addTileProduct, axpy, logitTile, TOKEN_BLOCK, vocabBlock} from './lce_tiles';
import {maskTile, singleLogit, softcapInPlace} from './SluiceLinearCrossEntropy_impl';

export interface LceGradResult {
  dEmbeddings: Float32Array;
  /** In the classifier's layout: [V, D] or [D, V]. */
  dClassifier: Float32Array;
  dBias: Float32Array;
  /** Tiles whose softmax part was skipped by the filter, out of `tiles`. */
  skippedTiles: number;
  tiles: number;
}

export interface LceGradInput {
  dLosses: Float32Array;
  dLse: Float32Array;
  embeddings: Float32Array;
  classifier: Float32Array;
  labels: Int32Array;
  lse: Float32Array;
  argmax: Int32Array;
  bias: Float32Array|null;
  classWeights?: Float32Array|null;
  n: number;
  v: number;
  d: number;
}

export function linearCrossEntropyGradImpl(input: LceGradInput, attrs: SluiceLinearCrossEntropyAttrs): LceGradResult {
  const {dLosses, dLse, embeddings: e, classifier: c, labels, lse, argmax, n, v, d} = input;
  const {softcap: cap, labelSmoothing: ls, zLoss, maxSup: alpha, ignoreIndex, gradFilterEps: eps} = attrs;
  // hasBias false: the op's zeros bias, not read, and dBias stays zeros (a missing hasBias is taken as true).
  const withBias = attrs.hasBias !== false;
  const b = withBias && input.bias != null ? input.bias : new Float32Array(v);
  const info = classInfo(b, attrs.hasClassWeights ? input.classWeights ?? null : null, v);
  const w = info.weights, masked = info.masked;
  const strides = classifierStrides(attrs.classifierLayout ?? 'vd', v, d);
  const vu = info.unmaskedCount;
  const dE = new Float32Array(n * d);
  const dC = new Float32Array(v * d);
  const dB = new Float32Array(v);

  const sCoef = new Float64Array(n);
  const smoothCoef = new Float64Array(n);  // uS, times w_c·u_c
  const maxSupCoef = new Float64Array(n);  // uM, times u_c
  const labelWeight = new Float64Array(n); // g·w_y
  let anyUniform = false;
  for (let i = 0; i < n; ++i) {
    const y = labels[i];
    const kept = y !== ignoreIndex;
    const g = !kept ? 0 : y >= 0 && y < v ? dLosses[i] : NaN;
    const gw = g === 0 ? 0 : g * (w && y >= 0 && y < v ? w[y] : 1);
    labelWeight[i] = gw;
    sCoef[i] = gw * (1 - ls + 2 * zLoss * lse[i]) + (ls > 0 ? g * ls * info.weightSum / vu : 0) + dLse[i];
    smoothCoef[i] = ls > 0 ? -g * ls / vu : 0;
    maxSupCoef[i] = alpha > 0 ? -gw * alpha / vu : 0;
    if (smoothCoef[i] !== 0 || maxSupCoef[i] !== 0) anyUniform = true;
  }
  const foldUniform = cap > 0 && anyUniform;
  const filter = eps > 0 && !foldUniform;

  // Dense part, tile by tile. The tile ends up holding dL/dx (after the cap's derivative).
  const bv = Math.min(vocabBlock(attrs.vocabChunk), Math.max(v, 1));
  const tile = new Float32Array(TOKEN_BLOCK * bv);
  let tiles = 0, skippedTiles = 0;
  const invCap = cap > 0 ? 1 / cap : 0;
  for (let j0 = 0; j0 < v; j0 += bv) {
    const nj = Math.min(bv, v - j0);
    const blockMasked = blockHasMask(info, j0, nj) ? masked : null;
    for (let i0 = 0; i0 < n; i0 += TOKEN_BLOCK) {
      const ni = Math.min(TOKEN_BLOCK, n - i0);
      ++tiles;
      let active = false;
      for (let ii = 0; ii < ni && !active; ++ii) {
        const i = i0 + ii;
        active = sCoef[i] !== 0 || (foldUniform && (smoothCoef[i] !== 0 || maxSupCoef[i] !== 0));
      }
      if (!active) {
        ++skippedTiles;
        continue;
      }
      logitTile(e, c, b, d, i0, ni, j0, nj, tile, strides.row, strides.col);
      softcapInPlace(tile, ni * nj, cap);
      if (blockMasked) maskTile(tile, ni, nj, j0, info);
      let maxP = 0;
      for (let ii = 0; ii < ni; ++ii) {
        const i = i0 + ii, o = ii * nj, l = lse[i], s = sCoef[i];
        const uS = foldUniform ? smoothCoef[i] : 0, uM = foldUniform ? maxSupCoef[i] : 0, uSum = uS + uM;
        for (let jj = 0; jj < nj; ++jj) {
          const z = tile[o + jj];
          if (blockMasked && blockMasked[j0 + jj]) {
            tile[o + jj] = 0;  // a masked class: exactly 0, never 0 · the cap's derivative at −Inf
            continue;
          }
          const p = Math.exp(z - l);
          if (p > maxP) maxP = p;
          let g = s * p + (w ? uS * w[j0 + jj] + uM : uSum);
          if (cap > 0) {
            const t = z * invCap;
            g *= 1 - t * t;
          }
          tile[o + jj] = g;
        }
      }
      if (filter && maxP < eps) {
        ++skippedTiles;
        continue;
      }
      if (withBias) {
        for (let ii = 0; ii < ni; ++ii) {
          const o = ii * nj;
          for (let jj = 0; jj < nj; ++jj) dB[j0 + jj] += tile[o + jj];
        }
      }
      addTileProduct(dE, i0, ni, tile, nj, 1, c, j0, nj, d, undefined, strides);
      addTileProduct(dC, j0, nj, tile, 1, nj, e, i0, ni, d, strides);
    }
  }

  // Rank-two uniform terms (no softcap): dz_ic += uS_i·w_c·u_c + uM_i·u_c.
  if (anyUniform && !foldUniform) {
    const terms: Array<[Float64Array, boolean]> = [[smoothCoef, w != null], [maxSupCoef, false]];
    for (const [coef, weighted] of terms) {
      const columns = unmaskedColumnSums(c, strides, b, info, v, d, weighted).columns;
      const rowSum = new Float64Array(d);
      let coefSum = 0;
      for (let i = 0; i < n; ++i) {
        const u = coef[i];
        if (u === 0) continue;
        coefSum += u;
        axpy(dE, i * d, u, columns, 0, d);
        for (let k = 0, o = i * d; k < d; ++k) rowSum[k] += u * e[o + k];
      }
      if (coefSum === 0 && !rowSum.some(x => x !== 0)) continue;
      for (let j = 0; j < v; ++j) {
        if (masked?.[j]) continue;
        const scale = weighted ? w![j] : 1;
        if (withBias) dB[j] += scale * coefSum;
        axpy(dC, j * strides.row, scale, rowSum, 0, d, strides.col);
      }
    }
  }

  // Sparse one-hot terms: the label's and, with maxSup, the argmax's.
  for (let i = 0; i < n; ++i) {
    const y = labels[i];
    if (y === ignoreIndex || !(y >= 0 && y < v)) continue;
    const gw = labelWeight[i];
    if (gw === 0) continue;
    // A label at a masked class (loss +Inf): its row keeps its exact 0.
    if (!masked?.[y]) addRowTerm(-gw * (1 - ls), y, i);
    const at = argmax[i];
    if (alpha > 0 && at >= 0 && at < v) addRowTerm(gw * alpha, at, i);
  }

  function addRowTerm(coef: number, j: number, i: number) {
    if (cap > 0) {
      const t = singleLogit(e, c, strides, b, d, i, j, cap) * invCap;
      coef *= 1 - t * t;
    }
    if (coef === 0) return;
    axpy(dE, i * d, coef, c, j * strides.row, d, 1, strides.col);
    axpy(dC, j * strides.row, coef, e, i * d, d, strides.col, 1);
    if (withBias) dB[j] += coef;
  }

  return {dEmbeddings: dE, dClassifier: dC, dBias: dB, skippedTiles, tiles};
}
