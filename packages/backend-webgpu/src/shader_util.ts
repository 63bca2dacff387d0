/**
 * WGSL shared by the sluice programs: a tiled matmul core (workgroup-memory
 * tiles, a register micro-tile per thread, coalesced loads for either operand
 * layout) that each program wraps with its own loaders and epilogue, plus the
 * small numeric helpers the epilogues share.
 */
import type {ClassifierLayout} from '@sluice/core';

/** Tile geometry, fixed at compile time (part of every shaderKey). */
export interface TileShape {
  /** Threads per workgroup along output columns / rows. */
  wgX: number;
  wgY: number;
  /** Outputs per thread along rows / columns (strided by wgY / wgX). */
  rm: number;
  rn: number;
  /** Depth of one shared-memory tile. */
  tk: number;
}

/**
 * 32×32 outputs per workgroup of 8×8 threads, 4×4 each (as tfjs's own
 * matmul), 32-deep tiles: 8 KiB of workgroup memory, half of WebGPU's
 * guaranteed 16 KiB. Measured on SwiftShader against 64×64 tiles of 16×16
 * threads: 1.4× faster (fewer threads per barrier).
 */
export const TILE: TileShape = {wgX: 8, wgY: 8, rm: 4, rn: 4, tk: 32};

export function tileRows(t: TileShape): number {
  return t.wgY * t.rm;
}
export function tileCols(t: TileShape): number {
  return t.wgX * t.rn;
}
export function tileKey(t: TileShape): string {
  return `${t.wgX}x${t.wgY}_${t.rm}x${t.rn}_${t.tk}`;
}

/**
 * Which index of an operand is contiguous in memory: 'k' (the reduction
 * index) or 'mn' (the output row for A, output column for B). Threads next to
 * each other load neighbouring addresses in either case.
 */
export type OperandLayout = 'k'|'mn';

/**
 * Declares `mmAs`/`mmBs` and the functions around the caller's loaders
 * `mmA(m, k) -> f32` and `mmB(k, n) -> f32` (which must return 0 out of range),
 * or with `vec4Loads` `mmA4(m, k)` / `mmB4(k, n) -> vec4<f32>`: the four
 * values from there along the operand's contiguous index (m or n for 'mn',
 * k for 'k'), which starts at a multiple of 4 (zeros out of range):
 *   mmLoadTiles(m0, n0, k0)  all threads fill the A tile [TK×TM] and B tile [TK×TN];
 *   mmMultiplyTiles(&acc)    each thread adds its rm×rn outputs of A·B over the tile;
 *   mmRun(&acc, m0, n0, k0, kTiles)  both, over kTiles tiles, with the barriers.
 * Thread (tx, ty) owns rows ty·rm + r and columns tx·rn + c: the tiles are
 * kept as vec4 along M and N so that each step of the inner loop is two vec4
 * loads from workgroup memory and rm vec4 FMAs. kTiles must be uniform.
 */
export function tiledMatMulSnippet(t: TileShape, aLayout: OperandLayout, bLayout: OperandLayout,
                                   vec4Loads = false): string {
  const tm = tileRows(t), tn = tileCols(t), threads = t.wgX * t.wgY;
  const per = vec4Loads ? 4 : 1;
  if ((tm * t.tk) % (threads * per) !== 0 || (tn * t.tk) % (threads * per) !== 0 || t.rm !== 4 || t.rn !== 4) {
    throw new Error(`tile ${tileKey(t)}: 4×4 outputs per thread and tiles that split evenly over ${threads} threads`);
  }
  const load = vec4Loads ? vec4TileLoads() : `
    for (var l = 0; l < ${(tm * t.tk) / threads}; l++) {
      let i = i32(localIndex) + l * ${threads};
      ${aLayout === 'k' ? `let k = i % ${t.tk}; let m = i / ${t.tk};` : `let m = i % ${tm}; let k = i / ${tm};`}
      mmAs[k * ${tm / 4} + m / 4][m % 4] = mmA(m0 + m, k0 + k);
    }
    for (var l = 0; l < ${(tn * t.tk) / threads}; l++) {
      let i = i32(localIndex) + l * ${threads};
      ${bLayout === 'k' ? `let k = i % ${t.tk}; let n = i / ${t.tk};` : `let n = i % ${tn}; let k = i / ${tn};`}
      mmBs[k * ${tn / 4} + n / 4][n % 4] = mmB(k0 + k, n0 + n);
    }`;
  function vec4TileLoads(): string {
    // 'mn': four neighbours along m (n) fill one vec4 of the tile; 'k': four along k go to four tile rows.
    const a = aLayout === 'mn' ? `
      let m = (i % ${tm / 4}) * 4; let k = i / ${tm / 4};
      mmAs[k * ${tm / 4} + m / 4] = mmA4(m0 + m, k0 + k);` : `
      let k = (i % ${t.tk / 4}) * 4; let m = i / ${t.tk / 4};
      let v = mmA4(m0 + m, k0 + k);
      for (var c = 0; c < 4; c++) {
        mmAs[(k + c) * ${tm / 4} + m / 4][m % 4] = v[c];
      }`;
    const b = bLayout === 'mn' ? `
      let n = (i % ${tn / 4}) * 4; let k = i / ${tn / 4};
      mmBs[k * ${tn / 4} + n / 4] = mmB4(k0 + k, n0 + n);` : `
      let k = (i % ${t.tk / 4}) * 4; let n = i / ${t.tk / 4};
      let v = mmB4(k0 + k, n0 + n);
      for (var c = 0; c < 4; c++) {
        mmBs[(k + c) * ${tn / 4} + n / 4][n % 4] = v[c];
      }`;
    return `
    for (var l = 0; l < ${(tm * t.tk) / (threads * 4)}; l++) {
      let i = i32(localIndex) + l * ${threads};${a}
    }
    for (var l = 0; l < ${(tn * t.tk) / (threads * 4)}; l++) {
      let i = i32(localIndex) + l * ${threads};${b}
    }`;
  }
  return `
  var<workgroup> mmAs : array<vec4<f32>, ${t.tk * tm / 4}>;
  var<workgroup> mmBs : array<vec4<f32>, ${t.tk * tn / 4}>;

  fn mmLoadTiles(m0 : i32, n0 : i32, k0 : i32) {${load}
  }

  fn mmMultiplyTiles(acc : ptr<function, array<vec4<f32>, 4>>) {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    for (var k = 0; k < ${t.tk}; k++) {
      let a = mmAs[k * ${tm / 4} + ty];
      let b = mmBs[k * ${tn / 4} + tx];
      (*acc)[0] = fma(vec4<f32>(a.x), b, (*acc)[0]);
      (*acc)[1] = fma(vec4<f32>(a.y), b, (*acc)[1]);
      (*acc)[2] = fma(vec4<f32>(a.z), b, (*acc)[2]);
      (*acc)[3] = fma(vec4<f32>(a.w), b, (*acc)[3]);
    }
  }

  fn mmRun(acc : ptr<function, array<vec4<f32>, 4>>, m0 : i32, n0 : i32, k0 : i32, kTiles : i32) {
    mmRunUnless(acc, m0, n0, k0, kTiles, false);
  }

  // mmRun that loads and multiplies nothing when skip (the same for the whole
  // workgroup): the barriers stay, so skip may come from memory without a
  // uniform load, which would cost two more barriers per step.
  fn mmRunUnless(acc : ptr<function, array<vec4<f32>, 4>>, m0 : i32, n0 : i32, k0 : i32, kTiles : i32,
                 skip : bool) {
    for (var kt = 0; kt < kTiles; kt++) {
      if (!skip) {
        mmLoadTiles(m0, n0, k0 + kt * ${t.tk});
      }
      workgroupBarrier();
      if (!skip) {
        mmMultiplyTiles(acc);
      }
      workgroupBarrier();
    }
  }
`;
}

/** The accumulator `mmRun` fills: acc[r][c] is output row ty·4 + r, column tx·4 + c. */
export const ACC_DECL = 'var acc : array<vec4<f32>, 4> = array<vec4<f32>, 4>();';

/**
 * Softcap z = s·tanh(x/s) written with exp(−2|x|/s), which neither
 * overflows nor returns NaN for large |x| (some drivers' tanh does).
 */
export const SOFTCAP_SNIPPET = `
  fn sluiceSoftcap(x : f32, s : f32) -> f32 {
    let e = exp(-2.0 * abs(x) / s);
    return s * sign(x) * (1.0 - e) / (1.0 + e);
  }
`;

/** Stands in for −∞ so that exp(NEG − m) is 0 and NEG − NEG is not NaN. */
export const NEG_SNIPPET = `const SLUICE_NEG = -3.0e38;`;

/**
 * A grid of `count` workgroups folded over x, y and z so that no dimension
 * exceeds `maxPerDim` (WebGPU allows 65535 workgroups per dimension).
 * Programs read their linear index with `sluiceFoldedIndex()`
 * (FOLDED_INDEX_SNIPPET); the fold may add surplus workgroups past `count`,
 * which the program must skip.
 */
export function foldedDispatch(count: number, maxPerDim: number): [number, number, number] {
  const x = Math.max(1, Math.min(count, maxPerDim));
  const y = Math.max(1, Math.min(Math.ceil(count / x), maxPerDim));
  const z = Math.max(1, Math.ceil(count / (x * y)));
  if (z > maxPerDim) {
    throw new Error(`${count} workgroups exceed the dispatch limit (${maxPerDim} per dimension, cubed)`);
  }
  return [x, y, z];
}

/**
 * The dispatchLayout of programs whose workgroups, not output elements, map
 * to work items: not flat (so main() takes no index), and of rank 3, which
 * tfjs skips when generating getOutputCoords for the (rank ≤ 2) outputs.
 */
export function workgroupLayout(): {x: number[], y: number[], z: number[]} {
  return {x: [0], y: [1], z: [2]};
}

/** The workgroup's linear index in a `foldedDispatch` grid. */
export const FOLDED_INDEX_SNIPPET = `
  fn sluiceFoldedIndex() -> i32 {
    return i32((workgroupId.z * numWorkgroups.y + workgroupId.y) * numWorkgroups.x + workgroupId.x);
  }
`;

/**
 * Inclusive prefix sum of one i32 per thread over a workgroup of `threads`
 * (a power of two), Hillis–Steele in workgroup memory:
 * `sluiceScanInclusive(t, v)` returns v_0 + … + v_t and must be called by
 * every thread in uniform control flow (it has barriers); after it,
 * `sluiceScan[threads - 1]` holds the workgroup total until the next call.
 */
export function workgroupScanSnippet(threads: number): string {
  if ((threads & (threads - 1)) !== 0) {
    throw new Error(`workgroupScanSnippet: ${threads} threads is not a power of two`);
  }
  return `
  var<workgroup> sluiceScan : array<i32, ${threads}>;

  fn sluiceScanInclusive(t : i32, v : i32) -> i32 {
    sluiceScan[t] = v;
    workgroupBarrier();
    for (var o = 1; o < ${threads}; o = o * 2) {
      let add = select(0, sluiceScan[max(t - o, 0)], t >= o);
      workgroupBarrier();
      sluiceScan[t] = sluiceScan[t] + add;
      workgroupBarrier();
    }
    return sluiceScan[t];
  }
`;
}

/** One loader of `tiledMatMulSnippet`: `value` where `inRange`, else 0. */
export interface OperandLoader {
  inRange: string;
  value: string;
}

/** `mmA(m, k)` and `mmB(k, n)` for `tiledMatMulSnippet`, from their range tests and element expressions. */
export function operandLoadersSnippet(a: OperandLoader, b: OperandLoader): string {
  const loader = (name: string, args: string, l: OperandLoader) => `
  fn ${name}(${args}) -> f32 {
    if (${l.inRange}) {
      return ${l.value};
    }
    return 0.0;
  }`;
  return loader('mmA', 'm : i32, k : i32', a) + loader('mmB', 'k : i32, n : i32', b);
}

/** Which classifier layout a program reads: 'vd' = [V, D] rows, 'dv' = [D, V] (a dense kernel, read as it is). */
export type {ClassifierLayout};

/**
 * Element (class n, feature k) of the classifier view C as a WGSL
 * expression: 'vd' C[(cOffset + n)·dim + k]; 'dv' C[k·cStride + cOffset + n]
 * (uniforms cOffset: the view's first class, cStride: its row length).
 */
export function classifierAt(layout: ClassifierLayout, n: string, k: string): string {
  // n and k may be sums ('d0 + dd'): parenthesised before they are scaled.
  return layout === 'vd' ? `C[(uniforms.cOffset + (${n})) * uniforms.dim + (${k})]` :
                           `C[(${k}) * uniforms.cStride + uniforms.cOffset + (${n})]`;
}

/**
 * Loaders of the logits E·Cᵀ for `tiledMatMulSnippet(t, 'k', logitTileLayout(layout))`:
 * A(m, k) = E[eRow + m, k], B(k, n) = classifier (class n, feature k), with
 * the uniforms numTokens, vocab (classes of this dispatch), dim, cOffset and
 * cStride. `eRow` is a WGSL expression: the first row of E's view.
 */
export function logitLoadersSnippet(eRow: string, layout: ClassifierLayout): string {
  return operandLoadersSnippet(
      {inRange: 'm < uniforms.numTokens && k < uniforms.dim', value: `E[(${eRow} + m) * uniforms.dim + k]`},
      {inRange: 'n < uniforms.vocab && k < uniforms.dim', value: classifierAt(layout, 'n', 'k')});
}

/** The contiguous index of the logits' B operand: features for 'vd', classes for 'dv'. */
export function logitTileLayout(layout: ClassifierLayout): OperandLayout {
  return layout === 'vd' ? 'k' : 'mn';
}

/** `sluiceIsNegInf(x)`: x is −Inf, by its bits (a masked class's bias; immune to fast-math folding). */
export const NEG_INF_SNIPPET = `
  fn sluiceIsNegInf(x : f32) -> bool {
    return bitcast<u32>(x) == 0xff800000u;
  }
`;

/**
 * `sluiceIsNaN(x)`: x is NaN, by its bits (exponent all ones, mantissa not
 * zero). Not `x != x`: WGSL lets implementations assume no NaN at run time,
 * and a compiler that does may fold that test to false.
 */
export const IS_NAN_SNIPPET = `
  fn sluiceIsNaN(x : f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
  }
`;

/**
 * The final logit of a matmul output. A class is masked when its bias is
 * −Inf (decided on the bias, so a softcap cannot turn it into −s):
 *   sluiceLogitAt(acc, col)  SluiceLogit(x = acc + bias[biasRow + col], masked),
 *   sluiceCap(x)             softcap(x) with uniforms.softcap (with a softcap), else x,
 * kept apart so that the forward can see a NaN before the cap (whose sign() may drop it).
 */
export function logitSnippet(hasBias: boolean, softcap: boolean, biasRow: string): string {
  return `
  ${softcap ? SOFTCAP_SNIPPET : ''}
  ${NEG_INF_SNIPPET}
  struct SluiceLogit {
    x : f32, masked : bool,
  }
  fn sluiceLogitAt(acc : f32, col : i32) -> SluiceLogit {
    ${hasBias ? `let b = bias[${biasRow} + col];
    return SluiceLogit(acc + b, sluiceIsNegInf(b));` : 'return SluiceLogit(acc, false);'}
  }
  fn sluiceCap(x : f32) -> f32 {
    return ${softcap ? 'sluiceSoftcap(x, uniforms.softcap)' : 'x'};
  }
`;
}

/**
 * Whether any thread of the workgroup keeps its part of a dz tile (the
 * softmax filter): `sluiceTileKeepReset()` before, `sluiceTileKept(keep)`
 * after the epilogue (`sluiceDzTile` calls both). Both have barriers (call
 * them in uniform control flow), and the result is uniform, so a workgroup
 * may return early on it.
 */
const TILE_KEEP_SNIPPET = `
  var<workgroup> sluiceKeepAny : atomic<u32>;
  var<workgroup> sluiceKeepAll : u32;
  fn sluiceTileKeepReset() {
    if (localIndex == 0u) {
      atomicStore(&sluiceKeepAny, 0u);
    }
    workgroupBarrier();
  }
  fn sluiceTileKept(keep : bool) -> bool {
    if (keep) {
      atomicOr(&sluiceKeepAny, 1u);
    }
    workgroupBarrier();
    if (localIndex == 0u) {
      sluiceKeepAll = atomicLoad(&sluiceKeepAny);
    }
    return workgroupUniformLoad(&sluiceKeepAll) != 0u;
  }
`;

/**
 * The backward's epilogue: dL/dx of a tile of logits, from each token's
 * packed coefficients (`LceTokenCoefProgram`: `tokenFields` floats per token
 * in `tok`) and `logitSnippet`'s functions:
 *   sluiceTokenCoef(row, vocabOffset)  the coefficients of token `row`, read once per row;
 *   sluiceLogitGrad(acc, col, t)       dz = p·A + u0 + u1·w_col (+ label, + argmax at
 *                                      their columns), times the softcap's derivative,
 *                                      exactly 0 at a masked class; keep = the value
 *                                      matters for the softmax filter (p ≥ uniforms.filterEps
 *                                      with A ≠ 0, u0 + u1·w ≠ 0, the label or argmax
 *                                      column with a nonzero coefficient, or NaN: a bad
 *                                      label's row is never dropped); a token whose
 *                                      coefficients are all 0 keeps nothing;
 *   sluiceDzTile(&acc, m0, n0, vocabOffset)  the thread's t.rm × t.rn logits of `mmRun`'s
 *                                      tile at (m0, n0) replaced by dz (0 outside uniforms
 *                                      numTokens × vocab); returns whether any thread of the
 *                                      workgroup keeps the tile (uniform: it has barriers).
 * `weighted`: u1 is scaled by classWeights[biasRow + col] (binding `weights`);
 * else u0 + u1 is one uniform term. `col` is the column in this dispatch;
 * labels and argmax are vocabulary indices, so vocabOffset (the dispatch's
 * first class) is subtracted once per row.
 */
export function logitGradSnippet(t: TileShape, tokenFields: number, softcap: boolean, weighted: boolean,
                                 biasRow: string): string {
  return `
  struct SluiceTokenCoef {
    lse : f32, softmax : f32, u0 : f32, u1 : f32, label : f32, argmax : f32, labelCol : i32, argCol : i32,
  }
  struct SluiceDz {
    value : f32, keep : bool,
  }
  ${TILE_KEEP_SNIPPET}
  fn sluiceTokenCoef(row : i32, vocabOffset : i32) -> SluiceTokenCoef {
    let o = row * ${tokenFields};
    return SluiceTokenCoef(tok[o], tok[o + 1], tok[o + 2], tok[o + 3], tok[o + 4], tok[o + 5],
                           i32(tok[o + 6]) - vocabOffset, i32(tok[o + 7]) - vocabOffset);
  }
  fn sluiceLogitGrad(acc : f32, col : i32, t : SluiceTokenCoef) -> SluiceDz {
    let l = sluiceLogitAt(acc, col);
    if (l.masked) {
      return SluiceDz(0.0, false);
    }
    let z = sluiceCap(l.x);
    let p = exp(z - t.lse);
    let uniformTerm = ${weighted ? `t.u0 + t.u1 * weights[${biasRow} + col]` : 't.u0 + t.u1'};
    var dz = p * t.softmax + uniformTerm;
    // Each term counts only through a nonzero coefficient: a token with none (ignored, dLse = 0)
    // keeps no tile, so padding tokens do not stop tiles being skipped.
    var keep = (p >= uniforms.filterEps && t.softmax != 0.0) || uniformTerm != 0.0;
    if (col == t.labelCol) {
      dz = dz + t.label;
      keep = keep || t.label != 0.0;
    }
    if (col == t.argCol) {
      dz = dz + t.argmax;
      keep = keep || t.argmax != 0.0;
    }
    ${softcap ? 'let q = z / uniforms.softcap; dz = dz * (1.0 - q * q);' : ''}
    return SluiceDz(dz, keep || isnan(dz));
  }
  fn sluiceDzTile(acc : ptr<function, array<vec4<f32>, 4>>, m0 : i32, n0 : i32, vocabOffset : i32) -> bool {
    sluiceTileKeepReset();
    var keep = false;
    for (var r = 0; r < ${t.rm}; r++) {
      let row = m0 + i32(localId.y) * ${t.rm} + r;
      let t = sluiceTokenCoef(min(row, uniforms.numTokens - 1), vocabOffset);
      for (var c = 0; c < ${t.rn}; c++) {
        let col = n0 + i32(localId.x) * ${t.rn} + c;
        var dz = 0.0;
        if (row < uniforms.numTokens && col < uniforms.vocab) {
          let g = sluiceLogitGrad((*acc)[r][c], col, t);
          dz = g.value;
          keep = keep || g.keep;
        }
        (*acc)[r][c] = dz;
      }
    }
    return sluiceTileKept(keep);
  }
`;
}
