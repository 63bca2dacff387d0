import {dispatchPlan} from '@sluice/core/internal';
import type {ExpertDropPolicy} from '@sluice/core';

/**
 * core's `dispatchPlan` (the counting sort, or the static capacity layout),
 * then a copy of each kept pair's token row into its slot; empty slots stay zero.
 */
export interface DispatchResult {
  dispatched: Float32Array;   // [M, D]
  offsets: Int32Array;        // [E + 1]
  sourceRows: Int32Array;     // [M], -1 for an empty slot
  dropped: number;
  counts: Int32Array;         // [E]
}

export function expertDispatchImpl(x: Float32Array, indices: Int32Array, n: number, k: number, d: number,
                                   numExperts: number, capacity: number, dropPolicy: ExpertDropPolicy,
                                   gates?: Float32Array): DispatchResult {
  const {offsets, sourceRows, tokens, dropped, counts} =
      dispatchPlan(indices.subarray(0, n * k), k, numExperts, capacity, dropPolicy, gates);
  const dispatched = new Float32Array(tokens.length * d);
  for (let row = 0; row < tokens.length; ++row) {
    const t = tokens[row];
    if (t >= 0) dispatched.set(x.subarray(t * d, t * d + d), row * d);
  }
  return {dispatched, offsets, sourceRows, dropped, counts};
}
