/**
 * Forward of the fused linear cross-entropy over vocabulary blocks: each
 * [token block × vocabulary block] tile of logits is computed, folded into
 * per-token running (max, Σexp, argmax[, Σz]) and dropped, so memory is
 * O(N + tile) beyond the inputs. Vocabulary blocks are the outer loop: a
 * block of C stays in cache while every token block passes over it.
 */
import type {SluiceLinearCrossEntropyAttrs} from '@sluice/core';

import {dot, logitTile, TOKEN_BLOCK, vocabBlock} from './lce_tiles';

export interface LceForwardResult {
  losses: Float32Array;
  lse: Float32Array;
  argmax: Int32Array;
}

/** Applies `z = cap · tanh(x / cap)` in place (cap 0: identity). */
export function softcapInPlace(tile: Float32Array, length: number, cap: number): void {
  if (cap <= 0) return;
  const inv = 1 / cap;
  for (let t = 0; t < length; ++t) {
    tile[t] = cap * Math.tanh(tile[t] * inv);
  }
}

/** The final logit of token i for vocabulary row j, computed alone. */
export function singleLogit(e: Float32Array, c: Float32Array, bias: Float32Array, d: number, i: number, j: number,
                            cap: number): number {
  const x = dot(e, i * d, c, j * d, d) + bias[j];
  return cap > 0 ? cap * Math.tanh(x / cap) : x;
}

/** Σ_j c[j, :] / v as float64: with no softcap the row mean of z is e · this + mean(bias). */
export function meanRow(c: Float32Array, v: number, d: number): Float64Array {
  const m = new Float64Array(d);
  for (let j = 0; j < v; ++j) {
    const o = j * d;
    for (let k = 0; k < d; ++k) m[k] += c[o + k];
  }
  for (let k = 0; k < d; ++k) m[k] /= v;
  return m;
}

export function linearCrossEntropyImpl(e: Float32Array, c: Float32Array, labels: Int32Array,
                                       bias: Float32Array|null, n: number, v: number, d: number,
                                       attrs: SluiceLinearCrossEntropyAttrs): LceForwardResult {
  const {softcap: cap, labelSmoothing: ls, zLoss, maxSup, ignoreIndex} = attrs;
  const b = bias ?? new Float32Array(v);
  const runMax = new Float64Array(n).fill(-Infinity);
  const runSum = new Float64Array(n);
  const runSumZ = new Float64Array(n);
  const argmax = new Int32Array(n);
  const bv = Math.min(vocabBlock(attrs.vocabChunk), Math.max(v, 1));
  const tile = new Float32Array(TOKEN_BLOCK * bv);

  for (let j0 = 0; j0 < v; j0 += bv) {
    const nj = Math.min(bv, v - j0);
    for (let i0 = 0; i0 < n; i0 += TOKEN_BLOCK) {
      const ni = Math.min(TOKEN_BLOCK, n - i0);
      logitTile(e, c, b, d, i0, ni, j0, nj, tile);
      softcapInPlace(tile, ni * nj, cap);
      for (let ii = 0; ii < ni; ++ii) {
        const i = i0 + ii, o = ii * nj;
        // The tile row's max first, so Σexp is rescaled once per tile, not per element.
        let m = tile[o], at = 0, sz = m;
        for (let jj = 1; jj < nj; ++jj) {
          const z = tile[o + jj];
          sz += z;
          if (z > m) {
            m = z;
            at = jj;
          }
        }
        const prev = runMax[i];
        // Strictly greater: on ties the earlier block keeps the argmax.
        const next = m > prev ? m : prev;
        if (m > prev || (prev === -Infinity && j0 === 0)) argmax[i] = j0 + at;
        let s = 0;
        for (let jj = 0; jj < nj; ++jj) s += Math.exp(tile[o + jj] - next);
        runSum[i] = (prev === -Infinity ? 0 : runSum[i] * Math.exp(prev - next)) + s;
        runMax[i] = next;
        runSumZ[i] += sz;
      }
    }
  }

  const losses = new Float32Array(n);
  const lse = new Float32Array(n);
  const mean = cap > 0 ? null : meanRow(c, v, d);
  let meanBias = 0;
  if (mean != null) {
    for (let j = 0; j < v; ++j) meanBias += b[j];
    meanBias /= v;
  }
  for (let i = 0; i < n; ++i) {
    const l = runMax[i] + Math.log(runSum[i]);
    lse[i] = l;
    const y = labels[i];
    if (y === ignoreIndex) continue;
    const zy = singleLogit(e, c, b, d, i, y, cap);
    let rowMean: number;
    if (mean != null) {
      rowMean = meanBias;
      for (let k = 0, o = i * d; k < d; ++k) rowMean += e[o + k] * mean[k];
    } else {
      rowMean = runSumZ[i] / v;
    }
    let loss = l - (1 - ls) * zy - ls * rowMean;
    if (zLoss > 0) loss += zLoss * l * l;
    if (maxSup > 0) loss += maxSup * (runMax[i] - rowMean);
    losses[i] = loss;
  }
  return {losses, lse, argmax};
}
