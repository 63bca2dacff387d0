/**
 * Backward pass, step 0 of each token chunk: the per-token coefficients of
 * dL/dz packed into one [tokens, 8] buffer, so the tile kernels bind one
 * token input instead of seven (WebGPU guarantees only 8 storage buffers per
 * stage). With g = dLosses (0 for ignored tokens, NaN for a kept label
 * outside [0, V)), h = dLse, w_y the label's class weight, V_u and S from
 * `classStats`, the gradient of a kept token at an unmasked class c is
 *   dz_c = p_c·A + u0 + u1·w_c − g(1 − ls)·w_y·[c = y] + g·maxSup·w_y·[c = argmax]
 * (core's kernel_names.ts), so the fields are lse,
 *   A = g·((1 − ls)·w_y + ls·S / V_u + 2·zLoss·w_y·lse) + h,
 *   u0 = −g·maxSup·w_y / V_u,  u1 = −g·ls / V_u,
 * the label coefficient −g(1 − ls)·w_y, the argmax coefficient g·maxSup·w_y,
 * and the label and argmax (as f32: exact below 2^24).
 *
 * Accumulation: none (per-token arithmetic in float32).
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';

export const TOKEN_FIELDS = 8;
const WORKGROUP = 64;

export class LceTokenCoefProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'numTokens : i32, tokenRow : i32, labelSmoothing : f32, zLoss : f32, maxSup : f32, ignoreIndex : i32, ' +
      'vocab : i32,';

  constructor(tokens: number, private weighted: boolean) {
    this.variableNames = ['labels', 'lse', 'argmax', 'dLosses', 'dLse', 'classStats', ...(weighted ? ['weights'] : [])];
    this.outputShape = [tokens, TOKEN_FIELDS];
    this.dispatch = [Math.ceil(tokens / WORKGROUP), 1, 1];
    this.shaderKey = `sluice_lceTokenCoef_${weighted}`;
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    if (index >= uniforms.numTokens) {
      return;
    }
    let t = uniforms.tokenRow + index;
    let label = labels[t];
    let kept = label != uniforms.ignoreIndex;
    let inRange = label >= 0 && label < uniforms.vocab;
    // g = 0 zeroes an ignored token's loss terms (its lse term h stays); a kept
    // label outside [0, V) (device resident, so the op could not check it)
    // makes every coefficient NaN.
    var g = select(0.0, dLosses[t], kept);
    var wy = ${this.weighted ? 'weights[clamp(label, 0, uniforms.vocab - 1)]' : '1.0'};
    if (kept && !inRange) {
      g = uniforms.NAN;
      wy = uniforms.NAN;
    }
    let ls = uniforms.labelSmoothing;
    let vu = classStats[0];
    let sumW = classStats[1];
    let l = lse[t];
    var smoothing = 0.0;
    if (ls > 0.0) {
      smoothing = ls * sumW / vu;
    }
    let o = index * ${TOKEN_FIELDS};
    result[o] = l;
    result[o + 1] = g * ((1.0 - ls) * wy + smoothing + 2.0 * uniforms.zLoss * wy * l) + dLse[t];
    result[o + 2] = select(0.0, -g * uniforms.maxSup * wy / vu, uniforms.maxSup > 0.0);
    result[o + 3] = select(0.0, -g * ls / vu, ls > 0.0);
    result[o + 4] = -g * (1.0 - ls) * wy;
    result[o + 5] = g * uniforms.maxSup * wy;
    result[o + 6] = f32(label);
    result[o + 7] = f32(argmax[t]);
  }
`;
  }
}
