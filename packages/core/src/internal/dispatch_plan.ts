/**
 * The index half of sparse expert dispatch, for backends that sort on the
 * host (cpu, tensorflow, webgl), on the small int32 ids only; each backend
 * moves the [M, D] rows its own way (a copy, a TF gather, a gather program).
 *
 * Dropless: a stable counting sort of the N·k (token, slot) pairs by expert
 * (histogram, exclusive scan into offsets, one placing pass), O(N·k).
 * With a capacity C: the static layout of `SluiceExpertDispatch` (kernel_names.ts):
 * the pairs are visited in the drop policy's priority order and each takes
 * its expert's next free slot e·C + used_e while used_e < C; the rest drop.
 */
import type {ExpertDropPolicy} from '../kernel_names';

export interface DispatchPlan {
  offsets: Int32Array;     // [E + 1]
  sourceRows: Int32Array;  // [M] pair index token·k + slot per row, -1 for an empty slot
  tokens: Int32Array;      // [M] token of each row (sourceRows div k), -1 for an empty slot
  dropped: number;
  counts: Int32Array;      // [E] pairs routed to each expert, before drops
}

/** The largest finite float32, 3.4028234663852886e38. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The key 'score' ranks a pair by: its gate clamped to the finite float32
 * range, a NaN gate as the lowest finite float32 (so it ranks last, tied with
 * −Inf and −FLOAT32_MAX). Keys stay finite so that every sort sees equal keys
 * as equal: tf.topk's comparator subtracts keys, and −Inf − −Inf is NaN,
 * which would leave such ties out of pair order. The composite and the webgpu
 * program compute the same key.
 */
export function gatePriorityKey(gate: number): number {
  return Number.isNaN(gate) ? -FLOAT32_MAX : Math.min(FLOAT32_MAX, Math.max(-FLOAT32_MAX, gate));
}

/**
 * The pairs in the order in which experts keep them (see `ExpertDropPolicy`).
 * 'score' sorts by descending `gatePriorityKey`, ties to the lower pair index (NaN last).
 */
export function pairPriority(pairs: number, k: number, dropPolicy: ExpertDropPolicy,
                             gates?: ArrayLike<number>): Int32Array {
  const order = new Int32Array(pairs);
  if (dropPolicy === 'slotMajor') {
    const n = pairs / k;
    for (let q = 0; q < pairs; ++q) order[q] = (q % n) * k + Math.floor(q / n);
    return order;
  }
  for (let p = 0; p < pairs; ++p) order[p] = p;
  if (dropPolicy === 'score') {
    if (gates == null) throw new Error('pairPriority: dropPolicy \'score\' needs the gates');
    const key = (p: number) => gatePriorityKey(gates[p]);
    order.sort((a, b) => {
      const ka = key(a), kb = key(b);
      return ka === kb ? a - b : kb > ka ? 1 : -1;
    });
  }
  return order;
}

/** `capacity` < 0: dropless (ragged); else the static layout with `capacity` slots per expert. */
export function dispatchPlan(indices: ArrayLike<number>, k: number, numExperts: number, capacity: number,
                             dropPolicy: ExpertDropPolicy = 'position', gates?: ArrayLike<number>): DispatchPlan {
  const pairs = indices.length;
  const counts = new Int32Array(numExperts);
  for (let p = 0; p < pairs; ++p) ++counts[indices[p]];
  if (capacity >= 0) {
    const m = numExperts * capacity;
    const sourceRows = new Int32Array(m).fill(-1), tokens = new Int32Array(m).fill(-1);
    const used = new Int32Array(numExperts);
    let dropped = 0;
    for (const p of pairPriority(pairs, k, dropPolicy, gates)) {
      const e = indices[p];
      if (used[e] >= capacity) {
        ++dropped;
        continue;
      }
      const row = e * capacity + used[e]++;
      sourceRows[row] = p;
      tokens[row] = (p / k) | 0;
    }
    const offsets = new Int32Array(numExperts + 1);
    for (let e = 0; e <= numExperts; ++e) offsets[e] = e * capacity;
    return {offsets, sourceRows, tokens, dropped, counts};
  }
  const offsets = new Int32Array(numExperts + 1);
  for (let e = 0; e < numExperts; ++e) offsets[e + 1] = offsets[e] + counts[e];
  const next = offsets.slice(0, numExperts);
  const sourceRows = new Int32Array(pairs), tokens = new Int32Array(pairs);
  for (let p = 0; p < pairs; ++p) {
    const row = next[indices[p]]++;
    sourceRows[row] = p;
    tokens[row] = (p / k) | 0;
  }
  return {offsets, sourceRows, tokens, dropped: 0, counts};
}
