/**
 * Backward pass, step 0 of each token chunk: the per-token coefficients of
 * dL/dz packed into one [tokens, 8] buffer, so the tile kernels bind one
 * token input instead of five (WebGPU guarantees only 8 storage buffers per
 * stage). Fields: lse, softmax coefficient g(1 + 2·zLoss·lse) + dLse, uniform
 * −g(ls + maxSup)/V, label coefficient −g(1 − ls), argmax coefficient g·maxSup,
 * label and argmax (as f32: exact below 2^24), and 0; g = 0 for ignored tokens,
 * NaN for a kept label outside [0, V).
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';

export const TOKEN_FIELDS = 8;
const WORKGROUP = 64;

export class LceTokenCoefProgram implements WebGPUProgram {
  variableNames = ['labels', 'lse', 'argmax', 'dLosses', 'dLse'];
  outputShape: number[];
  shaderKey = 'sluice_lceTokenCoef';
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'numTokens : i32, tokenRow : i32, labelSmoothing : f32, zLoss : f32, maxSup : f32, ignoreIndex : i32, ' +
      'invVocab : f32, vocab : i32,';

  constructor(tokens: number) {
    this.outputShape = [tokens, TOKEN_FIELDS];
    this.dispatch = [Math.ceil(tokens / WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    if (index >= uniforms.numTokens) {
      return;
    }
    let t = uniforms.tokenRow + index;
    let label = labels[t];
    // g = 0 zeroes an ignored token's row; a kept label outside [0, V) (device
    // resident, so the op could not check it) makes every coefficient NaN.
    var g = select(dLosses[t], 0.0, label == uniforms.ignoreIndex);
    if (label != uniforms.ignoreIndex && (label < 0 || label >= uniforms.vocab)) {
      g = uniforms.NAN;
    }
    let o = index * ${TOKEN_FIELDS};
    result[o] = lse[t];
    result[o + 1] = g * (1.0 + 2.0 * uniforms.zLoss * lse[t]) + dLse[t];
    result[o + 2] = -g * (uniforms.labelSmoothing + uniforms.maxSup) * uniforms.invVocab;
    result[o + 3] = -g * (1.0 - uniforms.labelSmoothing);
    result[o + 4] = g * uniforms.maxSup;
    result[o + 5] = f32(label);
    result[o + 6] = f32(argmax[t]);
    result[o + 7] = 0.0;
  }
`;
  }
}
