/**
 * Backward of the fused linear cross-entropy. Per token, dL/dz over the
 * vocabulary is
 *   s·softmax(z) + u + l·onehot(label) + m·onehot(argmax)
 * with s = g(1 + 2·zLoss·lse) + dLse, u = −g(ls + α)/V, l = −g(1 − ls),
 * m = g·α and g the upstream gradient of kept tokens (0 for ignored ones).
 * Only the softmax term is dense and data dependent: it is recomputed tile
 * by tile, and a tile whose probabilities are all below `gradFilterEps` is
 * skipped (Cut Cross-Entropy's gradient filtering). The one-hot terms are
 * applied as N sparse row updates. Without softcap the uniform term is rank
 * one (dE += u·ΣC, dC += Σ u·e) and costs O((N + V)·D); with softcap it is
 * scaled by the cap's derivative per element, so it is folded into the tiles,
 * which then cannot be skipped.
 */
import type {SluiceLinearCrossEntropyAttrs} from '@sluice/core';

import {addTileProduct, axpy, logitTile, TOKEN_BLOCK, vocabBlock} from './lce_tiles';
import {singleLogit, softcapInPlace} from './SluiceLinearCrossEntropy_impl';

export interface LceGradResult {
  dEmbeddings: Float32Array;
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
  n: number;
  v: number;
  d: number;
}

export function linearCrossEntropyGradImpl(input: LceGradInput, attrs: SluiceLinearCrossEntropyAttrs): LceGradResult {
  const {dLosses, dLse, embeddings: e, classifier: c, labels, lse, argmax, n, v, d} = input;
  const {softcap: cap, labelSmoothing: ls, zLoss, maxSup: alpha, ignoreIndex, gradFilterEps: eps} = attrs;
  const b = input.bias ?? new Float32Array(v);
  const dE = new Float32Array(n * d);
  const dC = new Float32Array(v * d);
  const dB = new Float32Array(v);

  const sCoef = new Float64Array(n);
  const uCoef = new Float64Array(n);
  let anyUniform = false;
  for (let i = 0; i < n; ++i) {
    const g = labels[i] === ignoreIndex ? 0 : dLosses[i];
    sCoef[i] = g * (1 + 2 * zLoss * lse[i]) + dLse[i];
    uCoef[i] = -g * (ls + alpha) / v;
    if (uCoef[i] !== 0) anyUniform = true;
  }
  const foldUniform = cap > 0 && anyUniform;
  const filter = eps > 0 && !foldUniform;

  // Dense part, tile by tile. dz holds dL/dx (after the cap's derivative).
  const bv = Math.min(vocabBlock(attrs.vocabChunk), Math.max(v, 1));
  const tile = new Float32Array(TOKEN_BLOCK * bv);
  let tiles = 0, skippedTiles = 0;
  const invCap = cap > 0 ? 1 / cap : 0;
  for (let j0 = 0; j0 < v; j0 += bv) {
    const nj = Math.min(bv, v - j0);
    for (let i0 = 0; i0 < n; i0 += TOKEN_BLOCK) {
      const ni = Math.min(TOKEN_BLOCK, n - i0);
      ++tiles;
      let active = false;
      for (let ii = 0; ii < ni && !active; ++ii) active = sCoef[i0 + ii] !== 0 || (foldUniform && uCoef[i0 + ii] !== 0);
      if (!active) {
        ++skippedTiles;
        continue;
      }
      logitTile(e, c, b, d, i0, ni, j0, nj, tile);
      softcapInPlace(tile, ni * nj, cap);
      let maxP = 0;
      for (let ii = 0; ii < ni; ++ii) {
        const i = i0 + ii, o = ii * nj, l = lse[i], s = sCoef[i], u = foldUniform ? uCoef[i] : 0;
        for (let jj = 0; jj < nj; ++jj) {
          const z = tile[o + jj];
          const p = Math.exp(z - l);
          if (p > maxP) maxP = p;
          let g = s * p + u;
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
      for (let ii = 0; ii < ni; ++ii) {
        const o = ii * nj;
        for (let jj = 0; jj < nj; ++jj) dB[j0 + jj] += tile[o + jj];
      }
      addTileProduct(dE, i0, ni, tile, nj, 1, c, j0, nj, d);
      addTileProduct(dC, j0, nj, tile, 1, nj, e, i0, ni, d);
    }
  }

  // Rank-one uniform term (no softcap).
  if (anyUniform && !foldUniform) {
    const colSum = new Float64Array(d);
    for (let j = 0; j < v; ++j) {
      for (let k = 0, o = j * d; k < d; ++k) colSum[k] += c[o + k];
    }
    const w = new Float64Array(d);
    let uSum = 0;
    for (let i = 0; i < n; ++i) {
      const u = uCoef[i];
      if (u === 0) continue;
      uSum += u;
      axpy(dE, i * d, u, colSum, 0, d);
      for (let k = 0, o = i * d; k < d; ++k) w[k] += u * e[o + k];
    }
    for (let j = 0; j < v; ++j) {
      dB[j] += uSum;
      for (let k = 0, o = j * d; k < d; ++k) dC[o + k] += w[k];
    }
  }

  // Sparse one-hot terms: the label's and, with maxSup, the argmax's.
  for (let i = 0; i < n; ++i) {
    const y = labels[i];
    if (y === ignoreIndex) continue;
    const g = dLosses[i];
    if (g === 0) continue;
    addRowTerm(-g * (1 - ls), y, i);
    const at = argmax[i];
    if (alpha > 0 && at >= 0 && at < v) addRowTerm(g * alpha, at, i);
  }

  function addRowTerm(coef: number, j: number, i: number) {
    if (cap > 0) {
      const t = singleLogit(e, c, b, d, i, j, cap) * invCap;
      coef *= 1 - t * t;
    }
    if (coef === 0) return;
    axpy(dE, i * d, coef, c, j * d, d);
    axpy(dC, j * d, coef, e, i * d, d);
    dB[j] += coef;
  }

  return {dEmbeddings: dE, dClassifier: dC, dBias: dB, skippedTiles, tiles};
}
