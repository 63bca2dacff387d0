/**
 * Forward pass, part 2: merges each token's per-split partial statistics
 * into one output of the kernel: the per-token loss, the lse, or the argmax
 * (one program per output, since a tfjs program writes one buffer).
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {PARTIAL_FIELDS} from './linear_cross_entropy_webgpu';
import {NEG_SNIPPET} from './shader_util';

export type LceMergeOutput = 'losses'|'lse'|'argmax';

const WORKGROUP = 64;

export class LceMergeProgram implements WebGPUProgram {
  // Only the loss reads labels; a binding the shader never uses would not be
  // in the pipeline's layout and would fail bind group creation.
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'numTokens : i32, numSplits : i32, labelRow : i32, outRow : i32, vocabTotal : f32, ' +
      'labelSmoothing : f32, zLoss : f32, maxSup : f32, ignoreIndex : i32,';

  constructor(outShape: number[], tokens: number, private output: LceMergeOutput) {
    this.variableNames = output === 'losses' ? ['partial', 'labels'] : ['partial'];
    this.outputShape = outShape;
    this.dispatch = [Math.ceil(tokens / WORKGROUP), 1, 1];
    this.shaderKey = `sluice_lceMerge_${output}`;
  }

  getUserCode(): string {
    const write = {
      losses: `
        let label = labels[uniforms.labelRow + row];
        let mean = z / uniforms.vocabTotal;
        var loss = lse - (1.0 - uniforms.labelSmoothing) * labelZ - uniforms.labelSmoothing * mean +
            uniforms.zLoss * lse * lse + uniforms.maxSup * (m - mean);
        if (label == uniforms.ignoreIndex) {
          loss = 0.0;
        } else if (label < 0 || f32(label) >= uniforms.vocabTotal) {
          loss = uniforms.NAN;  // a device-resident label the op could not check
        }
        result[uniforms.outRow + row] = loss;`,
      lse: `result[uniforms.outRow + row] = lse;`,
      argmax: `result[uniforms.outRow + row] = arg;`,
    }[this.output];
    return `
  ${NEG_SNIPPET}
  ${main('index')} {
    let row = index;
    if (row >= uniforms.numTokens) {
      return;
    }
    var m = SLUICE_NEG;
    var arg = -1;
    for (var s = 0; s < uniforms.numSplits; s++) {
      let base = (s * uniforms.numTokens + row) * ${PARTIAL_FIELDS};
      // Splits come in vocabulary order: strictly greater keeps the first index.
      if (partial[base] > m && partial[base + 2] >= 0.0) {
        m = partial[base];
        arg = i32(partial[base + 2]);
      }
    }
    var sumExp = 0.0;
    var z = 0.0;
    var labelZ = 0.0;
    for (var s = 0; s < uniforms.numSplits; s++) {
      let base = (s * uniforms.numTokens + row) * ${PARTIAL_FIELDS};
      if (partial[base + 2] >= 0.0) {
        sumExp = sumExp + partial[base + 1] * exp(partial[base] - m);
      }
      z = z + partial[base + 3];
      labelZ = labelZ + partial[base + 4];
    }
    // A NaN logit anywhere in the row arrives as a NaN label field (see LcePartialProgram).
    let lse = select(m + log(sumExp), labelZ, isnan(labelZ));
    ${write}
  }
`;
  }
}
