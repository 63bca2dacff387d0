/**
 * Forward pass, part 2: merges each token's per-split partial records into
 * one output of the kernel: the per-token loss, the lse, the argmax or the
 * entropy (one program per output, since a tfjs program writes one buffer).
 *
 * Accumulation, float32, splits in vocabulary order (one thread per token):
 * the max first (strictly greater: the first split keeps ties, so the first
 * maximum wins), then Σexp rescaled to it, Q likewise (see
 * `LcePartialProgram`), and the plain sums Σz, Σw·z and the label field.
 *
 * The loss of a kept token (definitions in core's kernel_names.ts):
 *   (1 − ls)·w_y·(lse − z_y) + (ls / V_u)·(S·lse − Σ_U w·z) + zLoss·w_y·lse² + maxSup·w_y·(max − Σ_U z / V_u)
 * with V_u and S from `classStats` (`LceClassStatsProgram`); 0 for an
 * ignored token; NaN for a kept label outside [0, V) (device-resident labels
 * that the op could not check), and for every kept token when no class is
 * unmasked (V_u = 0: lse is NaN).
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {PARTIAL_FIELDS} from './linear_cross_entropy_webgpu';
import {NEG_SNIPPET} from './shader_util';

export type LceMergeOutput = 'losses'|'lse'|'argmax'|'entropy';

const WORKGROUP = 64;

export class LceMergeProgram implements WebGPUProgram {
  // Only the loss reads labels, class statistics and weights; a binding the
  // shader never uses would not be in the pipeline's layout and would fail
  // bind group creation.
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'numTokens : i32, numSplits : i32, labelRow : i32, outRow : i32, vocabTotal : i32, ' +
      'labelSmoothing : f32, zLoss : f32, maxSup : f32, ignoreIndex : i32,';

  /** `weighted`: the loss reads classWeights (w_y, and Σw·z from the partials when smoothing). */
  constructor(outShape: number[], tokens: number, private output: LceMergeOutput, private weighted = false) {
    this.variableNames = output === 'losses' ? ['partial', 'labels', 'classStats', ...(weighted ? ['weights'] : [])] :
                                               ['partial'];
    this.outputShape = outShape;
    this.dispatch = [Math.ceil(tokens / WORKGROUP), 1, 1];
    this.shaderKey = `sluice_lceMerge_${output}_${weighted}`;
  }

  getUserCode(): string {
    const write = {
      losses: `
        let label = labels[uniforms.labelRow + row];
        if (label == uniforms.ignoreIndex) {
          result[uniforms.outRow + row] = 0.0;
          return;
        }
        // A device-resident label the op could not check, or no unmasked class at all (lse NaN): NaN,
        // whatever the weights and options (0·NaN terms are not left to the compiler).
        if (label < 0 || label >= uniforms.vocabTotal || sumExp == 0.0) {
          result[uniforms.outRow + row] = uniforms.NAN;
          return;
        }
        let vu = classStats[0];
        let sumW = classStats[1];
        let wy = ${this.weighted ? 'weights[label]' : '1.0'};
        let sumWZ = ${this.weighted ? 'wz' : 'z'};
        var loss = (1.0 - uniforms.labelSmoothing) * wy * (lse - labelZ) + uniforms.zLoss * wy * lse * lse;
        if (uniforms.labelSmoothing > 0.0) {
          loss = loss + uniforms.labelSmoothing / vu * (sumW * lse - sumWZ);
        }
        if (uniforms.maxSup > 0.0) {
          loss = loss + uniforms.maxSup * wy * (m - z / vu);
        }
        result[uniforms.outRow + row] = loss;`,
      lse: `result[uniforms.outRow + row] = lse;`,
      // No unmasked class: every index is as good; 0, as the float64 reference.
      argmax: `result[uniforms.outRow + row] = max(arg, 0);`,
      entropy: `result[uniforms.outRow + row] = select(log(sumExp) - q / sumExp, lse, isnan(lse));`,
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
    var q = 0.0;
    var z = 0.0;
    var wz = 0.0;
    var labelZ = 0.0;
    for (var s = 0; s < uniforms.numSplits; s++) {
      let base = (s * uniforms.numTokens + row) * ${PARTIAL_FIELDS};
      if (partial[base + 2] >= 0.0) {
        let d = partial[base] - m;
        let scale = exp(d);
        sumExp = sumExp + partial[base + 1] * scale;
        q = q + scale * (partial[base + 6] + partial[base + 1] * d);
      }
      z = z + partial[base + 3];
      labelZ = labelZ + partial[base + 4];
      wz = wz + partial[base + 5];
    }
    // A NaN logit anywhere in the row arrives as a NaN label field (see
    // LcePartialProgram); no unmasked class leaves Σexp = 0: lse NaN then.
    let lse = select(select(m + log(sumExp), uniforms.NAN, sumExp == 0.0), labelZ, isnan(labelZ));
    ${write}
  }
`;
  }
}
