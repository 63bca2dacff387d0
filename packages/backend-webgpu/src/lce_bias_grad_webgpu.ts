/**
 * Backward pass, step 4 of each vocabulary block: dBias (+)= column sums of
 * the dz block. One thread per column walks the tokens; neighbouring threads
 * read neighbouring columns, so every load is coalesced.
 *
 * Accumulation, float32: per column, the chunk's tokens in order, added to
 * the target (successive token chunks in order).
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';

const WORKGROUP = 64;

export class LceBiasGradProgram implements WebGPUProgram {
  variableNames = ['dz'];
  outputShape: number[];
  shaderKey = 'sluice_lceBiasGrad';
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'numTokens : i32, block : i32, outRow : i32, accumulate : i32,';

  constructor(outShape: number[], block: number) {
    this.outputShape = outShape;
    this.dispatch = [Math.ceil(block / WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    let col = index;
    if (col >= uniforms.block) {
      return;
    }
    var sum = 0.0;
    for (var i = 0; i < uniforms.numTokens; i++) {
      sum = sum + dz[i * uniforms.block + col];
    }
    let o = uniforms.outRow + col;
    result[o] = sum + select(0.0, result[o], uniforms.accumulate != 0);
  }
`;
  }
}
