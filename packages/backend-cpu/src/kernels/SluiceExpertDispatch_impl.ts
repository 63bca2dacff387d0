import {dispatchPlan} from '@sluice/core/internal';

/** Counting sort by expert (core's `dispatchPlan`), then a copy of each kept pair's token row into its segment. */
export interface DispatchResult {
  dispatched: Float32Array;   // [M, D]
  offsets: Int32Array;        // [E + 1]
  sourceRows: Int32Array;     // [M]
  dropped: number;
}

export function expertDispatchImpl(x: Float32Array, indices: Int32Array, n: number, k: number, d: number,
                                   numExperts: number, capacity: number): DispatchResult {
  const {offsets, sourceRows, tokens, dropped} = dispatchPlan(indices.subarray(0, n * k), k, numExperts, capacity);
  const dispatched = new Float32Array(tokens.length * d);
  for (let row = 0; row < tokens.length; ++row) {
    dispatched.set(x.subarray(tokens[row] * d, tokens[row] * d + d), row * d);
  }
  return {dispatched, offsets, sourceRows, dropped};
}
