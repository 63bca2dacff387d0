/**
 * The static capacity layout of expert dispatch (core's kernel_names.ts), on
 * top of the dropless counting sort (expert_dispatch_webgpu.ts), which leaves
 * each expert's pairs contiguous and in pair order (`rows`, `offsets`). Every
 * program writes one buffer; no count is read back, since the layout's shape
 * [E·C, D] follows from the attrs:
 *   'counts'  expertCounts[e] = offsets[e + 1] − offsets[e];
 *   (then slotRows is set to −1 over the E·C slots by `FillInt32Program`)
 *   'place'   per sorted row r of expert e: its rank among e's pairs in the
 *             drop policy's order (position: r − offsets[e]; slot-major and
 *             score: a count over e's segment, O(count_e) per row), and
 *             slotRows[e·C + rank] = pair when rank < C;
 *   'dropped' one thread: Σ_e max(count_e − C, 0);
 *   'gather'  dispatched[s, :] = x[slotRows[s] div k, :], zeros for an empty
 *             slot, and NaN everywhere if any expert index was out of range
 *             (such pairs sort past offsets[E]; the ids are not validated on the GPU).
 * Deterministic: each slot is written by at most one thread.
 */
import type {ExpertDropPolicy} from '@sluice/core';

import {FlatProgram} from './flat_program';
import {getMainHeaderString as main} from './internal';
import {IS_NAN_SNIPPET, NEG_INF_SNIPPET} from './shader_util';

/** Uniforms every capacity program gets, in this order. */
export const CAPACITY_UNIFORMS =
    'numPairs : i32, numExperts : i32, capacity : i32, k : i32, dim : i32, numTokens : i32,';

export type CapacityStep = 'counts'|'place'|'dropped'|'gather';

const INPUTS: Record<CapacityStep, string[]> = {
  counts: ['offsets'],
  place: ['indices', 'rows', 'offsets', 'gates'],
  dropped: ['offsets'],
  gather: ['x', 'slotRows', 'offsets'],
};

export class ExpertCapacityProgram extends FlatProgram {
  variableNames: string[];
  shaderKey: string;
  uniforms = CAPACITY_UNIFORMS;

  /** `threads`: how many invocations the step runs (its output size for counts and gather). */
  constructor(private step: CapacityStep, outShape: number[], threads: number,
              private policy: ExpertDropPolicy = 'position') {
    super(outShape, threads);
    // 'place' reads the gates only to rank by score.
    this.variableNames = step === 'place' && policy !== 'score' ? ['indices', 'rows', 'offsets'] : INPUTS[step];
    this.shaderKey = `sluice_expertCapacity_${step}${step === 'place' ? `_${policy}` : ''}`;
  }

  getUserCode(): string {
    return `
  ${this.step === 'place' ? this.keySnippet() : ''}
  ${main('index')} {${this.body()}
  }
`;
  }

  private body(): string {
    switch (this.step) {
      case 'counts':
        return `
    if (index < uniforms.numExperts) {
      result[index] = offsets[index + 1] - offsets[index];
    }`;
      case 'dropped':
        return `
    if (index == 0) {
      var dropped = 0;
      for (var e = 0; e < uniforms.numExperts; e++) {
        dropped = dropped + max(offsets[e + 1] - offsets[e] - uniforms.capacity, 0);
      }
      result[0] = dropped;
    }`;
      case 'gather':
        return `
    let size = uniforms.numExperts * uniforms.capacity * uniforms.dim;
    if (index < size) {
      let s = index / uniforms.dim;
      let c = index - s * uniforms.dim;
      let p = slotRows[s];
      var value = 0.0;
      if (p >= 0) {
        value = x[(p / uniforms.k) * uniforms.dim + c];
      }
      result[index] = select(value, uniforms.NAN, offsets[uniforms.numExperts] != uniforms.numPairs);
    }`;
      default:
        return `
    // Rows past offsets[E] hold out-of-range expert ids: never placed (gather poisons the output).
    if (index < offsets[uniforms.numExperts]) {
      let p = rows[index];
      let e = indices[p];
      let start = offsets[e];
      ${this.rankCode()}
      if (rank < uniforms.capacity) {
        result[e * uniforms.capacity + rank] = p;
      }
    }`;
    }
  }

  private rankCode(): string {
    if (this.policy === 'position') return 'let rank = index - start;';
    return `
      let end = offsets[e + 1];
      var rank = 0;
      for (var r = start; r < end; r++) {
        rank = rank + select(0, 1, sluiceBefore(rows[r], p));
      }`;
  }

  /** sluiceBefore(a, b): pair a comes before pair b in the policy's order. */
  private keySnippet(): string {
    if (this.policy === 'slotMajor') {
      return `
  fn sluiceSlotMajor(p : i32) -> i32 {
    let t = p / uniforms.k;
    return (p - t * uniforms.k) * uniforms.numTokens + t;
  }
  fn sluiceBefore(a : i32, b : i32) -> bool {
    return sluiceSlotMajor(a) < sluiceSlotMajor(b);
  }`;
    }
    if (this.policy === 'score') {
      return `
  // core's gatePriorityKey: the gate clamped to finite float32, NaN (and −Inf) as the lowest finite value, so
  // a NaN gate ranks last and ties go to the lower pair. Tested by bits, which no fast-math assumption folds.
  ${NEG_INF_SNIPPET}
  ${IS_NAN_SNIPPET}
  fn sluiceGateKey(p : i32) -> f32 {
    let g = gates[p];
    if (sluiceIsNaN(g) || sluiceIsNegInf(g)) {
      return bitcast<f32>(0xff7fffffu);
    }
    if (bitcast<u32>(g) == 0x7f800000u) {
      return bitcast<f32>(0x7f7fffffu);
    }
    return g;
  }
  fn sluiceBefore(a : i32, b : i32) -> bool {
    let ga = sluiceGateKey(a);
    let gb = sluiceGateKey(b);
    return ga > gb || (ga == gb && a < b);
  }`;
    }
    return '';
  }
}
