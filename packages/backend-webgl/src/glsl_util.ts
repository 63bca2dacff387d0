/** GLSL snippets shared by the sluice webgl programs. */

import type {UniformType} from './internal';

/**
 * The uniforms of every program that walks one vocabulary chunk of logits
 * (the two folds and the dz program): the chunk's first class and the
 * softcap. A fresh array per program, as each tfjs program keeps its own.
 */
export function chunkUniforms(): Array<{name: string, type: UniformType}> {
  return [{name: 'vocabStart', type: 'int'}, {name: 'softcap', type: 'float'}];
}

/** The values of `chunkUniforms()`, in its order, for the chunk starting at class `start`. */
export function chunkUniformValues(start: number, softcap: number): number[][] {
  return [[start], [softcap]];
}

/**
 * `softcap(x, s)` = s·tanh(x / s), identity when s <= 0 (a runtime uniform,
 * so one compiled program serves every cap). tanh is written through
 * exp(−2|x|), as tfjs's own Tanh does: GLSL's tanh overflows to NaN for
 * large |x| on some drivers.
 */
export const SOFTCAP_SNIPPET = `
  float sluiceSoftcap(float x, float s) {
    if (s <= 0.0) {
      return x;
    }
    float u = x / s;
    float e2 = exp(-2.0 * abs(u));
    return s * sign(u) * (1.0 - e2) / (1.0 + e2);
  }
`;

/** Integer held in an int32 tensor's float texel (exact below 2^24). */
export const AS_INT_SNIPPET = `
  int sluiceAsInt(float v) {
    return int(floor(v + 0.5));
  }
`;

/**
 * The component of a packed 2×2 texel that holds (row, col) of a rank-2
 * tensor: texels hold rows (2r, 2r+1) × cols (2c, 2c+1) as x, y, z, w.
 */
export const PACKED_PICK_SNIPPET = `
  float sluicePick(vec4 t, int row, int col) {
    bool oddRow = (row & 1) == 1;
    bool oddCol = (col & 1) == 1;
    return oddRow ? (oddCol ? t.w : t.z) : (oddCol ? t.y : t.x);
  }
`;

/**
 * Masked classes (bias −Inf, so pre-cap logit x = −Inf) and +Inf. The test is
 * a sentinel comparison, not isinf(): drivers may flush an infinite texel to
 * ∓FLT_MAX, and below −3.4e38 holds both −Inf and −FLT_MAX (a finite bias in
 * [−FLT_MAX, −3.4e38) would also count as masked: outside any useful range).
 * It must run on the pre-cap x: the softcap maps −Inf to the finite −s.
 * uintBitsToFloat needs GLSL ES 3 (webgl 2, which tfjs uses wherever offered).
 */
export const MASK_SNIPPET = `
  bool sluiceMasked(float x) {
    return x < -3.4e38;
  }
  float sluiceInf() {
    return uintBitsToFloat(0x7f800000u);
  }
`;
