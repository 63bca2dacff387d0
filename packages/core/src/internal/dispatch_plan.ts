/**
 * The index half of sparse expert dispatch, for backends that sort on the
 * host (cpu, tensorflow, webgl): a stable counting sort of the N·k
 * (token, slot) pairs by expert, O(N·k) on int32 ids. Histogram with the
 * capacity clip in pair order, exclusive scan into offsets, then one pass
 * that places every kept pair. Only these small int32 arrays are made here;
 * each backend moves the [M, D] rows its own way (a copy, a TF gather, a
 * gather program).
 */
export interface DispatchPlan {
  offsets: Int32Array;     // [E + 1]
  sourceRows: Int32Array;  // [M] pair index token·k + slot per row
  tokens: Int32Array;      // [M] token of each row (sourceRows div k)
  dropped: number;
}

/** `capacity` < 0: dropless. */
export function dispatchPlan(indices: ArrayLike<number>, k: number, numExperts: number,
                             capacity: number): DispatchPlan {
  const pairs = indices.length;
  const counts = new Int32Array(numExperts);
  const kept = new Uint8Array(pairs);
  let dropped = 0;
  for (let p = 0; p < pairs; ++p) {
    const e = indices[p];
    if (capacity >= 0 && counts[e] >= capacity) {
      ++dropped;
    } else {
      ++counts[e];
      kept[p] = 1;
    }
  }
  const offsets = new Int32Array(numExperts + 1);
  for (let e = 0; e < numExperts; ++e) offsets[e + 1] = offsets[e] + counts[e];
  const m = offsets[numExperts];
  const next = offsets.slice(0, numExperts);
  const sourceRows = new Int32Array(m), tokens = new Int32Array(m);
  for (let p = 0; p < pairs; ++p) {
    if (kept[p] === 0) continue;
    const row = next[indices[p]]++;
    sourceRows[row] = p;
    tokens[row] = (p / k) | 0;
  }
  return {offsets, sourceRows, tokens, dropped};
}
