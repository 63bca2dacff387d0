/**
 * Top-1 suppression, one workgroup per row: threads stride over the row for
 * a local (max, first index), reduce them in workgroup memory (ties to the
 * lower index), then sum (max − z) the same way. A tfjs program writes one
 * buffer, so the kernel runs it twice: once for the penalty, once for the
 * argmax. A NaN never wins a comparison but reaches the sum: its row's
 * penalty is NaN.
 *
 * One dispatch covers rows [inRow, inRow + numRows) of the bound logits and
 * writes rows [outRow, …) of the bound output: the kernel cuts N·V logits
 * past the storage-binding limit into row chunks, and lays the workgroups
 * out 2-D (rowsPerDim per row of the grid) past the per-dimension limit.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';

const WORKGROUP = 64;

export type TopOneOutput = 'penalty'|'argmax';

export class TopOneSuppressionProgram implements WebGPUProgram {
  variableNames = ['logits'];
  outputShape: number[];
  shaderKey: string;
  // Not a flat layout: workgroups, not output elements, map to rows, and main() takes no index.
  dispatchLayout = {x: [0], y: [1]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'numRows : i32, rowLength : i32, alpha : f32, inRow : i32, outRow : i32, rowsPerDim : i32,';

  /** `outputRows`: the bound output's length; `rows` of it are written, `rowsPerDim` workgroups per grid row. */
  constructor(outputRows: number, rows: number, rowsPerDim: number, private output: TopOneOutput) {
    this.outputShape = [outputRows];
    this.dispatch = [Math.min(rows, rowsPerDim), Math.ceil(rows / rowsPerDim), 1];
    this.shaderKey = `sluice_topOne_chunked_${output}`;
  }

  getUserCode(): string {
    const write = this.output === 'penalty' ?
        'result[uniforms.outRow + row] = uniforms.alpha * gap[0] / f32(uniforms.rowLength);' :
        'result[uniforms.outRow + row] = best[0];';
    return `
  var<workgroup> top : array<f32, ${WORKGROUP}>;
  var<workgroup> best : array<i32, ${WORKGROUP}>;
  var<workgroup> gap : array<f32, ${WORKGROUP}>;
  ${main()} {
    let t = i32(localId.x);
    let row = i32(workgroupId.y) * uniforms.rowsPerDim + i32(workgroupId.x);
    // No early return: the barriers below must stay in uniform control flow
    // (tfjs passes workgroupId through a private variable, which WGSL's
    // uniformity analysis does not trust). Rows past the end scan nothing.
    let valid = row < uniforms.numRows;
    let len = select(0, uniforms.rowLength, valid);
    let base = select(0, (uniforms.inRow + row) * uniforms.rowLength, valid);
    var m = logits[base];
    var at = 0;
    for (var j = t; j < len; j = j + ${WORKGROUP}) {
      let z = logits[base + j];
      if (z > m || (z == m && j < at)) {
        m = z;
        at = j;
      }
    }
    top[t] = m;
    best[t] = at;
    workgroupBarrier();
    for (var s = ${WORKGROUP / 2}; s > 0; s = s / 2) {
      if (t < s) {
        let z = top[t + s];
        let j = best[t + s];
        if (z > top[t] || (z == top[t] && j < best[t])) {
          top[t] = z;
          best[t] = j;
        }
      }
      workgroupBarrier();
    }
    let rowMax = top[0];
    var sum = 0.0;
    for (var j = t; j < len; j = j + ${WORKGROUP}) {
      sum = sum + (rowMax - logits[base + j]);
    }
    gap[t] = sum;
    workgroupBarrier();
    for (var s = ${WORKGROUP / 2}; s > 0; s = s / 2) {
      if (t < s) {
        gap[t] = gap[t] + gap[t + s];
      }
      workgroupBarrier();
    }
    if (t == 0 && valid) {
      ${write}
    }
  }
`;
  }
}
