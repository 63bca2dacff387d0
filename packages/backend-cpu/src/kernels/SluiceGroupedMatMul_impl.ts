/**
 * Grouped matmul over expert segments with the register-blocked tile loops
 * of the cross-entropy kernels: each expert's rows times its own matrix.
 * Weights are [E, K, H] row-major; the products are written as
 * "row · column-major matrix" by transposing each expert's matrix once, so
 * the inner loop is a contiguous dot product.
 */
import {addTileProduct, logitTile} from './lce_tiles';

/** y [M, H] = x_seg [rows, K] · W_e (W_e [K, H], or [H, K] when transposed). */
export function groupedMatMulImpl(x: Float32Array, w: Float32Array, offsets: Int32Array, m: number, kDim: number,
                                  numExperts: number, a: number, b: number, transposeWeights: boolean): Float32Array {
  const h = transposeWeights ? a : b;
  const y = new Float32Array(m * h);
  const zeroBias = new Float32Array(h);
  const wt = new Float32Array(a * b);
  for (let e = 0; e < numExperts; ++e) {
    const start = offsets[e], rows = offsets[e + 1] - start;
    if (rows === 0) continue;
    // logitTile wants the right operand as rows of length K: W_eᵀ [H, K].
    let right: Float32Array;
    if (transposeWeights) {
      right = w.subarray(e * a * b, (e + 1) * a * b);  // already [H, K]
    } else {
      const we = w.subarray(e * a * b, (e + 1) * a * b);  // [K, H]
      for (let i = 0; i < kDim; ++i) {
        for (let j = 0; j < h; ++j) wt[j * kDim + i] = we[i * h + j];
      }
      right = wt;
    }
    for (let r0 = 0; r0 < rows; r0 += 64) {
      const nr = Math.min(64, rows - r0);
      const tile = y.subarray((start + r0) * h, (start + r0 + nr) * h);
      logitTile(x, right, zeroBias, kDim, start + r0, nr, 0, h, tile);
    }
  }
  return y;
}

/** dW [E, K, H]: dW_e = x_segᵀ · dy_seg. */
export function groupedWeightGradImpl(x: Float32Array, dy: Float32Array, offsets: Int32Array, kDim: number,
                                      h: number, numExperts: number): Float32Array {
  const dw = new Float32Array(numExperts * kDim * h);
  // dW_eᵀ [H, K] += dy_segᵀ · x_seg as a tile product over the segment's rows.
  const dwt = new Float32Array(h * kDim);
  for (let e = 0; e < numExperts; ++e) {
    const start = offsets[e], rows = offsets[e + 1] - start;
    if (rows === 0) continue;
    dwt.fill(0);
    // coef[a = h index, b = row] = dy[(start + b), a]; src rows = x rows.
    addTileProduct(dwt, 0, h, dy.subarray(start * h, (start + rows) * h), 1, h, x.subarray(start * kDim), 0, rows, kDim);
    const out = dw.subarray(e * kDim * h, (e + 1) * kDim * h);
    for (let j = 0; j < h; ++j) {
      for (let i = 0; i < kDim; ++i) out[i * h + j] = dwt[j * kDim + i];
    }
  }
  return dw;
}
