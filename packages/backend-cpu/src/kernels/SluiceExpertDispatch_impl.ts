/**
 * Stable counting sort of the N·k (token, slot) pairs by expert: histogram,
 * capacity clip in pair order, exclusive scan into offsets, then a scatter
 * that copies each kept pair's token row into its expert's segment.
 */
export interface DispatchResult {
  dispatched: Float32Array;   // [M, D]
  offsets: Int32Array;        // [E + 1]
  sourceRows: Int32Array;     // [M]
  dropped: number;
}

export function expertDispatchImpl(x: Float32Array, indices: Int32Array, n: number, k: number, d: number,
                                   numExperts: number, capacity: number): DispatchResult {
  const pairs = n * k;
  const kept = new Uint8Array(pairs);
  const counts = new Int32Array(numExperts);
  let dropped = 0;
  for (let p = 0; p < pairs; ++p) {
    const e = indices[p];
    if (capacity >= 0 && counts[e] >= capacity) {
      ++dropped;
      continue;
    }
    ++counts[e];
    kept[p] = 1;
  }
  const offsets = new Int32Array(numExperts + 1);
  for (let e = 0; e < numExperts; ++e) offsets[e + 1] = offsets[e] + counts[e];
  const m = offsets[numExperts];
  const next = offsets.slice(0, numExperts);
  const dispatched = new Float32Array(m * d);
  const sourceRows = new Int32Array(m);
  for (let p = 0; p < pairs; ++p) {
    if (!kept[p]) continue;
    const row = next[indices[p]]++;
    sourceRows[row] = p;
    const token = (p / k) | 0;
    dispatched.set(x.subarray(token * d, token * d + d), row * d);
  }
  return {dispatched, offsets, sourceRows, dropped};
}
