/**
 * WGSL shared by the sluice programs: a tiled matmul core (workgroup-memory
 * tiles, a register micro-tile per thread, coalesced loads for either operand
 * layout) that each program wraps with its own loaders and epilogue, plus the
 * small numeric helpers the epilogues share.
 */

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
 * `mmA(m, k) -> f32` and `mmB(k, n) -> f32` (which must return 0 out of range):
 *   mmLoadTiles(m0, n0, k0)  all threads fill the A tile [TK×TM] and B tile [TK×TN];
 *   mmMultiplyTiles(&acc)    each thread adds its rm×rn outputs of A·B over the tile;
 *   mmRun(&acc, m0, n0, k0, kTiles)  both, over kTiles tiles, with the barriers.
 * Thread (tx, ty) owns rows ty·rm + r and columns tx·rn + c: the tiles are
 * kept as vec4 along M and N so that each step of the inner loop is two vec4
 * loads from workgroup memory and rm vec4 FMAs. kTiles must be uniform.
 */
export function tiledMatMulSnippet(t: TileShape, aLayout: OperandLayout, bLayout: OperandLayout): string {
  const tm = tileRows(t), tn = tileCols(t), threads = t.wgX * t.wgY;
  if ((tm * t.tk) % threads !== 0 || (tn * t.tk) % threads !== 0 || t.rm !== 4 || t.rn !== 4) {
    throw new Error(`tile ${tileKey(t)}: 4×4 outputs per thread and tiles that split evenly over ${threads} threads`);
  }
  const aIndex = aLayout === 'k' ? `let k = i % ${t.tk}; let m = i / ${t.tk};` : `let m = i % ${tm}; let k = i / ${tm};`;
  const bIndex = bLayout === 'k' ? `let k = i % ${t.tk}; let n = i / ${t.tk};` : `let n = i % ${tn}; let k = i / ${tn};`;
  return `
  var<workgroup> mmAs : array<vec4<f32>, ${t.tk * tm / 4}>;
  var<workgroup> mmBs : array<vec4<f32>, ${t.tk * tn / 4}>;

  fn mmLoadTiles(m0 : i32, n0 : i32, k0 : i32) {
    for (var l = 0; l < ${(tm * t.tk) / threads}; l++) {
      let i = i32(localIndex) + l * ${threads};
      ${aIndex}
      mmAs[k * ${tm / 4} + m / 4][m % 4] = mmA(m0 + m, k0 + k);
    }
    for (var l = 0; l < ${(tn * t.tk) / threads}; l++) {
      let i = i32(localIndex) + l * ${threads};
      ${bIndex}
      mmBs[k * ${tn / 4} + n / 4][n % 4] = mmB(k0 + k, n0 + n);
    }
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
