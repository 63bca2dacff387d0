/**
 * Forward of the fused linear cross-entropy over vocabulary blocks: each
 * [token block × vocabulary block] tile of logits is computed, folded into
 * per-token running (max, Σexp, argmax[, Σz, Σw·z, Σexp·z]) and dropped, so
 * memory is O(N + tile) beyond the inputs. Vocabulary blocks are the outer
 * loop: a block of C stays in cache while every token block passes over it.
 * The full contract is `SluiceLinearCrossEntropy` in @sluice/core's
 * kernel_names.ts (masked classes, classWeights, 'dv', entropy).
 *
 * Accumulation (issue 18.6): JS numbers, i.e. float64, wider than the
 * contract's float32 floor. Logits: each dot product in increasing k, rounded
 * to float32 once when stored in the tile (then the softcap, in float32 too);
 * the label's logit z_y is recomputed alone to the same float32 value.
 * lse: an online max / Σexp over vocabulary blocks of 128 (or vocabChunk) in
 * column order, the block's max found first so Σexp is rescaled once per
 * block; Σz, Σw·z and Σexp·z follow the same column order. Without a softcap
 * Σ_U z and Σ_U w·z are e · (Σ_U c_j) + Σ_U b_j, the column sums in j order.
 */
import type {SluiceLinearCrossEntropyAttrs} from '@sluice/core';

import {classInfo, ClassInfo} from '@sluice/core/internal';

import {blockHasMask, classifierStrides, unmaskedColumnSums} from './lce_classes';
import {dot, logitTile, Strides, TOKEN_BLOCK, vocabBlock} from './lce_tiles';

export interface LceForwardResult {
  losses: Float32Array;
  lse: Float32Array;
  argmax: Int32Array;
  /** [N] when attrs.computeEntropy, else empty. */
  entropy: Float32Array;
}

/** Applies `z = cap · tanh(x / cap)` in place (cap 0: identity). */
export function softcapInPlace(tile: Float32Array, length: number, cap: number): void {
  if (cap <= 0) return;
  const inv = 1 / cap;
  for (let t = 0; t < length; ++t) {
    tile[t] = cap * Math.tanh(tile[t] * inv);
  }
}

/** Sets the masked columns of an [ni × nj] tile (vocabulary block at j0) to −Inf: after the softcap, which maps −Inf to −cap. */
export function maskTile(tile: Float32Array, ni: number, nj: number, j0: number, info: ClassInfo): void {
  const masked = info.masked!;
  for (let jj = 0; jj < nj; ++jj) {
    if (!masked[j0 + jj]) continue;
    for (let ii = 0; ii < ni; ++ii) tile[ii * nj + jj] = -Infinity;
  }
}

/**
 * The final logit of token i for vocabulary row j, computed alone (−Inf for a
 * masked class): the very float32 value the tiles hold, rounded where
 * logitTile stores it and capped as softcapInPlace does. lse comes from those
 * tiles, so a float64 z_y could exceed it and make a confident token's
 * lse − z_y negative (about −1e-6); with this value lse >= max >= z_y.
 */
export function singleLogit(e: Float32Array, c: Float32Array, strides: Strides, bias: Float32Array, d: number,
                            i: number, j: number, cap: number): number {
  if (bias[j] === -Infinity) return -Infinity;
  const x = Math.fround(dot(e, i * d, c, j * strides.row, d, strides.col) + bias[j]);
  return cap > 0 ? Math.fround(cap * Math.tanh(x * (1 / cap))) : x;
}

export function linearCrossEntropyImpl(e: Float32Array, c: Float32Array, labels: Int32Array,
                                       bias: Float32Array|null, n: number, v: number, d: number,
                                       attrs: SluiceLinearCrossEntropyAttrs,
                                       classWeights: Float32Array|null = null): LceForwardResult {
  const {softcap: cap, labelSmoothing: ls, zLoss, maxSup, ignoreIndex, computeEntropy} = attrs;
  // hasBias false: the op's zeros bias, not read (a missing hasBias is taken as true, so a given bias counts).
  const b = attrs.hasBias !== false && bias != null ? bias : new Float32Array(v);
  const info = classInfo(b, attrs.hasClassWeights ? classWeights : null, v);
  const w = info.weights;
  const strides = classifierStrides(attrs.classifierLayout ?? 'vd', v, d);
  // Σ_U z (maxSup's mean, and smoothing's without weights) and Σ_U w·z (smoothing with weights).
  const needSumZ = maxSup > 0 || (ls > 0 && w == null);
  const needSumWZ = ls > 0 && w != null;
  const runMax = new Float64Array(n).fill(-Infinity);
  const runSum = new Float64Array(n);
  const runSumZ = new Float64Array(cap > 0 && needSumZ ? n : 0);
  const runSumWZ = new Float64Array(cap > 0 && needSumWZ ? n : 0);
  const runSumEZ = new Float64Array(computeEntropy ? n : 0);
  const argmax = new Int32Array(n);
  const bv = Math.min(vocabBlock(attrs.vocabChunk), Math.max(v, 1));
  const tile = new Float32Array(TOKEN_BLOCK * bv);

  for (let j0 = 0; j0 < v; j0 += bv) {
    const nj = Math.min(bv, v - j0);
    const masked = blockHasMask(info, j0, nj) ? info.masked : null;
    for (let i0 = 0; i0 < n; i0 += TOKEN_BLOCK) {
      const ni = Math.min(TOKEN_BLOCK, n - i0);
      logitTile(e, c, b, d, i0, ni, j0, nj, tile, strides.row, strides.col);
      softcapInPlace(tile, ni * nj, cap);
      if (masked) maskTile(tile, ni, nj, j0, info);
      for (let ii = 0; ii < ni; ++ii) {
        const i = i0 + ii, o = ii * nj;
        // The tile row's max first, so Σexp is rescaled once per tile, not per element.
        let m = tile[o], at = 0;
        for (let jj = 1; jj < nj; ++jj) {
          const z = tile[o + jj];
          if (z > m) {
            m = z;
            at = jj;
          }
        }
        if (cap > 0 && (needSumZ || needSumWZ)) {
          let sz = 0, swz = 0;
          for (let jj = 0; jj < nj; ++jj) {
            if (masked && masked[j0 + jj]) continue;
            const z = tile[o + jj];
            sz += z;
            if (w) swz += w[j0 + jj] * z;
          }
          if (needSumZ) runSumZ[i] += sz;
          if (needSumWZ) runSumWZ[i] += swz;
        }
        if (m === -Infinity) continue;  // every class of this block masked: it adds nothing
        const prev = runMax[i];
        // Strictly greater: on ties the earlier block keeps the argmax.
        const next = m > prev ? m : prev;
        if (m > prev || (prev === -Infinity && j0 === 0)) argmax[i] = j0 + at;
        let s = 0, sez = 0;
        if (computeEntropy && masked) {
          for (let jj = 0; jj < nj; ++jj) {
            const z = tile[o + jj];
            if (z === -Infinity) continue;  // masked: exp(−Inf)·(−Inf) would be NaN
            const p = Math.exp(z - next);
            s += p;
            sez += p * z;
          }
        } else if (computeEntropy) {
          for (let jj = 0; jj < nj; ++jj) {
            const z = tile[o + jj], p = Math.exp(z - next);
            s += p;
            sez += p * z;
          }
        } else {
          for (let jj = 0; jj < nj; ++jj) s += Math.exp(tile[o + jj] - next);
        }
        const rescale = prev === -Infinity ? 0 : Math.exp(prev - next);
        runSum[i] = runSum[i] * rescale + s;
        if (computeEntropy) runSumEZ[i] = runSumEZ[i] * rescale + sez;
        runMax[i] = next;
      }
    }
  }

  const losses = new Float32Array(n);
  const lse = new Float32Array(n);
  const entropy = new Float32Array(computeEntropy ? n : 0);
  // Without a softcap Σ_U z and Σ_U w·z are linear in e.
  const plainSums = cap > 0 || !needSumZ ? null : unmaskedColumnSums(c, strides, b, info, v, d, false);
  const plainWeighted = cap > 0 || !needSumWZ ? null : unmaskedColumnSums(c, strides, b, info, v, d, true);
  const vu = info.unmaskedCount, weightSum = info.weightSum;
  for (let i = 0; i < n; ++i) {
    // No unmasked class (or only −Inf logits): NaN, as log of an empty sum (kernel_names.ts), not log(0) = −Inf.
    const l = runMax[i] === -Infinity ? NaN : runMax[i] + Math.log(runSum[i]);
    lse[i] = l;
    if (computeEntropy) entropy[i] = l - runSumEZ[i] / runSum[i];
    const y = labels[i];
    if (y === ignoreIndex) continue;
    if (!(y >= 0 && y < v)) {
      losses[i] = NaN;  // a label the op could not check: never a finite loss
      continue;
    }
    const wy = w ? w[y] : 1;
    const zy = singleLogit(e, c, strides, b, d, i, y, cap);
    let loss = (1 - ls) * wy * (l - zy);
    let sumZ = 0;
    if (needSumZ) {
      sumZ = plainSums ? plainSums.bias + dot(e, i * d, plainSums.columns, 0, d) :
                         runSumZ[i];
    }
    if (ls > 0) {
      const sumWZ = !needSumWZ   ? sumZ :
          plainWeighted          ? plainWeighted.bias + dot(e, i * d, plainWeighted.columns, 0, d) :
                                   runSumWZ[i];
      loss += (ls / vu) * (weightSum * l - sumWZ);
    }
    if (zLoss > 0) loss += zLoss * wy * l * l;
    if (maxSup > 0) loss += maxSup * wy * (runMax[i] - sumZ / vu);
    losses[i] = loss;
  }
  return {losses, lse, argmax, entropy};
}
