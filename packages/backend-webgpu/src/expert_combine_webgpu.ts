/**
 * Expert combine without atomics: the inverse map pair → row (−1 for pairs
 * without a row: dropped) is filled with −1 (`FillInt32Program`) and then
 * scattered from sourceRows, and each output element sums its token's k slots in slot
 * order, out[t, h] = Σ_s gates[t, s] · y[inv[t·k + s], h]: deterministic.
 */
import {FlatProgram} from './flat_program';
import {getMainHeaderString as main} from './internal';

/** inv [P]: inv[sourceRows[r]] = r over the M rows, into a buffer `FillInt32Program` set to −1. */
export class CombineInverseProgram extends FlatProgram {
  variableNames = ['sourceRows'];
  shaderKey = 'sluice_expertCombine_scatter';
  uniforms = 'numPairs : i32, numRows : i32,';

  constructor(pairs: number, rows: number) {
    // The scatter runs over the M rows, not the P outputs.
    super([pairs], rows);
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    if (index < uniforms.numRows) {
      let p = sourceRows[index];
      if (p >= 0 && p < uniforms.numPairs) {
        result[p] = index;
      }
    }
  }
`;
  }
}

/** out [N, H], flat over its elements. */
export class ExpertCombineProgram extends FlatProgram {
  variableNames = ['y', 'inverse', 'gates'];
  shaderKey = 'sluice_expertCombine_sum';
  size = true;
  uniforms = 'k : i32, cols : i32,';

  constructor(n: number, h: number) {
    super([n, h]);
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
