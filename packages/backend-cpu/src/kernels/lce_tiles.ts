/**
 * Blocked dense loops shared by the linear cross-entropy kernels. Embeddings
 * and their gradient are row-major with the hidden dimension D contiguous;
 * the classifier side is addressed through strides (row stride, column
 * stride), so a [V, D] classifier (strides D, 1) and a [D, V] dense kernel
 * (strides 1, V) run the same loops without a transposed copy. The inner
 * loops are 4×4 register blocks: each k step loads 8 values for 16
 * multiply-adds, which is what lets plain JS reach several times tfjs-cpu's
 * matMul speed. Accumulation happens in JS numbers (float64), in increasing
 * k, and each product sum is rounded to float32 once, when stored.
 */

/**
 * out[ii·nj + jj] = e[i0 + ii] · c[j0 + jj] + bias[j0 + jj], for a token
 * block [i0, i0 + ni) against a vocabulary block [j0, j0 + nj); row j of c
 * is c[j·cRow + k·cCol] for k < d.
 */
export function logitTile(e: Float32Array, c: Float32Array, bias: Float32Array, d: number, i0: number, ni: number,
                          j0: number, nj: number, out: Float32Array, cRow = d, cCol = 1): void {
  let ii = 0;
  for (; ii + 4 <= ni; ii += 4) {
    const a0 = (i0 + ii) * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
    const o0 = ii * nj, o1 = o0 + nj, o2 = o1 + nj, o3 = o2 + nj;
    let jj = 0;
    for (; jj + 4 <= nj; jj += 4) {
      const b0 = (j0 + jj) * cRow, b1 = b0 + cRow, b2 = b1 + cRow, b3 = b2 + cRow;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let k = 0, q = 0; k < d; ++k, q += cCol) {
        const x0 = e[a0 + k], x1 = e[a1 + k], x2 = e[a2 + k], x3 = e[a3 + k];
        const y0 = c[b0 + q], y1 = c[b1 + q], y2 = c[b2 + q], y3 = c[b3 + q];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const j = j0 + jj;
      const c0 = bias[j], c1 = bias[j + 1], c2 = bias[j + 2], c3 = bias[j + 3];
      out[o0 + jj] = s00 + c0; out[o0 + jj + 1] = s01 + c1; out[o0 + jj + 2] = s02 + c2; out[o0 + jj + 3] = s03 + c3;
      out[o1 + jj] = s10 + c0; out[o1 + jj + 1] = s11 + c1; out[o1 + jj + 2] = s12 + c2; out[o1 + jj + 3] = s13 + c3;
      out[o2 + jj] = s20 + c0; out[o2 + jj + 1] = s21 + c1; out[o2 + jj + 2] = s22 + c2; out[o2 + jj + 3] = s23 + c3;
      out[o3 + jj] = s30 + c0; out[o3 + jj + 1] = s31 + c1; out[o3 + jj + 2] = s32 + c2; out[o3 + jj + 3] = s33 + c3;
    }
    for (; jj < nj; ++jj) {
      const b0 = (j0 + jj) * cRow;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0, q = 0; k < d; ++k, q += cCol) {
        const y = c[b0 + q];
        s0 += e[a0 + k] * y; s1 += e[a1 + k] * y; s2 += e[a2 + k] * y; s3 += e[a3 + k] * y;
      }
      const b = bias[j0 + jj];
      out[o0 + jj] = s0 + b; out[o1 + jj] = s1 + b; out[o2 + jj] = s2 + b; out[o3 + jj] = s3 + b;
    }
  }
  for (; ii < ni; ++ii) {
    const a = (i0 + ii) * d, o = ii * nj;
    for (let jj = 0; jj < nj; ++jj) {
      out[o + jj] = dot(e, a, c, (j0 + jj) * cRow, d, cCol) + bias[j0 + jj];
    }
  }
}

/** Σ_k x[xOffset + k] · y[yOffset + k·yStride] for k < d. */
export function dot(x: ArrayLike<number>, xOffset: number, y: ArrayLike<number>, yOffset: number, d: number,
                    yStride = 1): number {
  let s = 0;
  for (let k = 0, q = yOffset; k < d; ++k, q += yStride) {
    s += x[xOffset + k] * y[q];
  }
  return s;
}

/** dst[dOffset + k·dStride] += alpha · src[sOffset + k·sStride] for k < d. */
export function axpy(dst: Float32Array, dOffset: number, alpha: number, src: ArrayLike<number>, sOffset: number,
                     d: number, dStride = 1, sStride = 1): void {
  if (alpha === 0) return;
  for (let k = 0, p = dOffset, q = sOffset; k < d; ++k, p += dStride, q += sStride) {
    dst[p] += alpha * src[q];
  }
}

/** Row stride and element stride of a matrix's rows: [R, D] row-major is (D, 1), its transpose [D, R] is (1, R). */
export interface Strides {
  row: number;
  col: number;
}

/**
 * dst[row dRow0 + a][k] += Σ_b coef[a·aStride + b·bStride] · src[row sRow0 + b][k]
 * for a < na, b < nb, k < d: a tile-times-rows product, rows addressed by
 * their strides (default row-major [·, d]). With the coefficient tile
 * [tokens × vocab] it serves both gradients: dE (a = token, b = vocab row of
 * C) and dC (a = vocab, b = token row of E, the tile read transposed).
 * All-zero 4×4 coefficient blocks are skipped, so sparse tiles cost little.
 */
export function addTileProduct(dst: Float32Array, dRow0: number, na: number, coef: Float32Array, aStride: number,
                               bStride: number, src: Float32Array, sRow0: number, nb: number, d: number,
                               dStrides: Strides = {row: d, col: 1}, sStrides: Strides = {row: d, col: 1}): void {
  const dr = dStrides.row, dc = dStrides.col, sr = sStrides.row, sc = sStrides.col;
  let a = 0;
  for (; a + 4 <= na; a += 4) {
    const r0 = (dRow0 + a) * dr, r1 = r0 + dr, r2 = r1 + dr, r3 = r2 + dr;
    const ca0 = a * aStride, ca1 = ca0 + aStride, ca2 = ca1 + aStride, ca3 = ca2 + aStride;
    let b = 0;
    for (; b + 4 <= nb; b += 4) {
      const q0 = b * bStride, q1 = q0 + bStride, q2 = q1 + bStride, q3 = q2 + bStride;
      const c00 = coef[ca0 + q0], c01 = coef[ca0 + q1], c02 = coef[ca0 + q2], c03 = coef[ca0 + q3];
      const c10 = coef[ca1 + q0], c11 = coef[ca1 + q1], c12 = coef[ca1 + q2], c13 = coef[ca1 + q3];
      const c20 = coef[ca2 + q0], c21 = coef[ca2 + q1], c22 = coef[ca2 + q2], c23 = coef[ca2 + q3];
      const c30 = coef[ca3 + q0], c31 = coef[ca3 + q1], c32 = coef[ca3 + q2], c33 = coef[ca3 + q3];
      if (c00 === 0 && c01 === 0 && c02 === 0 && c03 === 0 && c10 === 0 && c11 === 0 && c12 === 0 && c13 === 0 &&
          c20 === 0 && c21 === 0 && c22 === 0 && c23 === 0 && c30 === 0 && c31 === 0 && c32 === 0 && c33 === 0) {
        continue;
      }
      const s0 = (sRow0 + b) * sr, s1 = s0 + sr, s2 = s1 + sr, s3 = s2 + sr;
      for (let k = 0, p = 0, q = 0; k < d; ++k, p += dc, q += sc) {
        const y0 = src[s0 + q], y1 = src[s1 + q], y2 = src[s2 + q], y3 = src[s3 + q];
        dst[r0 + p] += c00 * y0 + c01 * y1 + c02 * y2 + c03 * y3;
        dst[r1 + p] += c10 * y0 + c11 * y1 + c12 * y2 + c13 * y3;
        dst[r2 + p] += c20 * y0 + c21 * y1 + c22 * y2 + c23 * y3;
        dst[r3 + p] += c30 * y0 + c31 * y1 + c32 * y2 + c33 * y3;
      }
    }
    for (; b < nb; ++b) {
      const q = b * bStride, s = (sRow0 + b) * sr;
      axpy(dst, r0, coef[ca0 + q], src, s, d, dc, sc);
      axpy(dst, r1, coef[ca1 + q], src, s, d, dc, sc);
      axpy(dst, r2, coef[ca2 + q], src, s, d, dc, sc);
      axpy(dst, r3, coef[ca3 + q], src, s, d, dc, sc);
    }
  }
  for (; a < na; ++a) {
    const r = (dRow0 + a) * dr, ca = a * aStride;
    for (let b = 0; b < nb; ++b) {
      axpy(dst, r, coef[ca + b * bStride], src, (sRow0 + b) * sr, d, dc, sc);
    }
  }
}

/** Tile sizes: a [64 × 128] float32 tile is 32 KiB, and 128 rows of C at D = 128 stay in L2. */
export const TOKEN_BLOCK = 64;
export const DEFAULT_VOCAB_BLOCK = 128;

export function vocabBlock(vocabChunk: number): number {
  return vocabChunk > 0 ? vocabChunk : DEFAULT_VOCAB_BLOCK;
}
