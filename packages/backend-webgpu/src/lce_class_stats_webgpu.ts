/**
 * What label smoothing and MaxSup need to know about the classes, computed
 * on the device (the bias and weights may live there): V_u, the number of
 * unmasked classes (bias > −Inf), and S = Σ_{c∈U} w_c, as [V_u, S] float32.
 * One workgroup per classifier range; `accumulate` adds a range to the last.
 *
 * Accumulation, float32: thread t sums classes t, t + 256, … of the range in
 * order, then the 256 partial sums are added pairwise (a tree of halvings);
 * ranges add in order. V_u is a count, exact below 2^24.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import {ranges} from '@sluice/core/internal';

import type {GpuScratch} from './gpu_scratch';
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {NEG_INF_SNIPPET, workgroupLayout} from './shader_util';
import {i32} from './uniforms';

const THREADS = 256;

export class LceClassStatsProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape = [2];
  shaderKey: string;
  dispatchLayout = workgroupLayout();
  dispatch: [number, number, number] = [1, 1, 1];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  uniforms = 'count : i32, row : i32, accumulate : i32,';

  constructor(private hasBias: boolean, private hasWeights: boolean) {
    this.variableNames = [...(hasBias ? ['bias'] : []), ...(hasWeights ? ['weights'] : [])];
    this.shaderKey = `sluice_lceClassStats_${hasBias}_${hasWeights}`;
  }

  getUserCode(): string {
    return `
  ${NEG_INF_SNIPPET}
  var<workgroup> counts : array<f32, ${THREADS}>;
  var<workgroup> sums : array<f32, ${THREADS}>;

  ${main()} {
    let t = i32(localIndex);
    var count = 0.0;
    var sum = 0.0;
    for (var c = t; c < uniforms.count; c = c + ${THREADS}) {
      ${this.hasBias ? 'if (sluiceIsNegInf(bias[uniforms.row + c])) { continue; }' : ''}
      count = count + 1.0;
      sum = sum + ${this.hasWeights ? 'weights[uniforms.row + c]' : '1.0'};
    }
    counts[t] = count;
    sums[t] = sum;
    workgroupBarrier();
    for (var half = ${THREADS / 2}; half > 0; half = half / 2) {
      if (t < half) {
        counts[t] = counts[t] + counts[t + half];
        sums[t] = sums[t] + sums[t + half];
      }
      workgroupBarrier();
    }
    if (t == 0) {
      let keep = uniforms.accumulate != 0;
      result[0] = counts[0] + select(0.0, result[0], keep);
      result[1] = sums[0] + select(0.0, result[1], keep);
    }
  }
`;
  }
}

/**
 * [V_u, S] for the call: from the bias (masks) and classWeights when the
 * kernel reads them, over classifier ranges that fit a binding; V, V when
 * neither is read (nothing is masked and every weight is 1).
 */
export function classStats(scratch: GpuScratch, v: number, bias: TensorInfo|undefined,
                           weights: TensorInfo|undefined): TensorInfo {
  if (bias == null && weights == null) {
    return scratch.fromValues(Float32Array.of(v, v), [2]);
  }
  const stats = scratch.allocate([2], 'float32');
  const program = new LceClassStatsProgram(bias != null, weights != null);
  ranges(v, Math.floor(scratch.budget.bindingBytes / 4)).forEach(([v0, count], i) => {
    const views = [bias, weights].filter((t): t is TensorInfo => t != null).map(t => scratch.rows(t, v0, count));
    scratch.backend.runWebGPUProgram(program, views.map(view => view.info), 'float32',
                                     [i32(count), i32(views[0].offset), i32(i > 0 ? 1 : 0)], stats);
    views.forEach(view => scratch.release(view.info));
  });
  return stats;
}
