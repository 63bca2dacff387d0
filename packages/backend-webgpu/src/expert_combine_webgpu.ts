/**
 * Expert combine without atomics: the inverse map pair → row (−1 for pairs
 * without a row: dropped) is filled with −1 and then scattered from
 * sourceRows, and each output element sums its token's k slots in slot
 * order, out[t, h] = Σ_s gates[t, s] · y[inv[t·k + s], h]: deterministic.
 */
import {getMainHeaderString as main, webgpu_util, WebGPUProgram} from './internal';

const WORKGROUP: [number, number, number] = [64, 1, 1];

export type InverseStep = 'fill'|'scatter';

/** inv [P]: 'fill' writes −1 everywhere, 'scatter' writes inv[sourceRows[r]] = r over the M rows. */
export class CombineInverseProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: {x: number[]};
  dispatch: [number, number, number];
  workgroupSize = WORKGROUP;
  uniforms = 'numPairs : i32, numRows : i32,';

  constructor(private step: InverseStep, pairs: number, rows: number) {
    this.variableNames = step === 'fill' ? [] : ['sourceRows'];
    this.outputShape = [pairs];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    // The scatter runs over the M rows, not the P outputs.
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, [step === 'fill' ? pairs : rows], WORKGROUP);
    this.shaderKey = `sluice_expertCombine_${step}`;
  }

  getUserCode(): string {
    const body = this.step === 'fill' ? `
    if (index < uniforms.numPairs) {
      result[index] = -1;
    }` : `
    if (index < uniforms.numRows) {
      let p = sourceRows[index];
      if (p >= 0 && p < uniforms.numPairs) {
        result[p] = index;
      }
    }`;
    return `
  ${main('index')} {${body}
  }
`;
  }
}

/** out [N, H], flat over its elements. */
export class ExpertCombineProgram implements WebGPUProgram {
  variableNames = ['y', 'inverse', 'gates'];
  outputShape: number[];
  shaderKey = 'sluice_expertCombine_sum';
  dispatchLayout: {x: number[]};
  dispatch: [number, number, number];
  workgroupSize = WORKGROUP;
  size = true;
  uniforms = 'k : i32, cols : i32,';

  constructor(n: number, h: number) {
    this.outputShape = [n, h];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, this.outputShape, WORKGROUP);
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    if (index < uniforms.size) {
      let t = index / uniforms.cols;
      let h = index - t * uniforms.cols;
      var sum = 0.0;
      for (var s = 0; s < uniforms.k; s++) {
        let p = t * uniforms.k + s;
        let r = inverse[p];
        if (r >= 0) {
          sum = sum + gates[p] * y[r * uniforms.cols + h];
        }
      }
      result[index] = sum;
    }
  }
`;
  }
}
