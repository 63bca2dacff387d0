/**
 * Float64 references for the sparse MoE ops, written densely and per expert
 * (filter the pairs of each expert, in pair order), independently of the
 * counting sort the kernels use.
 */
/** One token's router scores in float64: softmax over the row, or sigmoid per entry. */
export function routerScoresReference(z: number[], scoring: 'softmax'|'sigmoid'): number[] {
  if (scoring === 'sigmoid') return z.map(v => 1 / (1 + Math.exp(-v)));
  const m = Math.max(...z);
  const ex = z.map(v => Math.exp(v - m));
  const total = ex.reduce((a, b) => a + b, 0);
  return ex.map(v => v / total);
}

export interface GroupLimit {numGroups: number; topKGroups: number}

/**
 * routeTopK in float64, written from DeepSeek-V3's definition for the group
 * limit (transformers' DeepseekV3TopkRouter.forward): group score = sum of
 * the group's two best biased scores, keep the topKGroups best groups (ties to
 * the lower group), then the k best biased scores among their experts.
 */
export function routeTopKReference(logits: Float32Array, n: number, e: number, k: number,
                                   scoring: 'softmax'|'sigmoid', bias: Float32Array|null, normalize: boolean,
                                   groups: GroupLimit|null = null):
    {indices: Int32Array, gates: Float64Array, scores: Float64Array} {
  const indices = new Int32Array(n * k), gates = new Float64Array(n * k), scores = new Float64Array(n * e);
  for (let t = 0; t < n; ++t) {
    const z = Array.from(logits.subarray(t * e, (t + 1) * e));
    const s = routerScoresReference(z, scoring);
    scores.set(s, t * e);
    const biased = s.map((v, j) => v + (bias ? bias[j] : 0));
    let allowed = biased.map(() => true);
    if (groups != null) {
      const size = e / groups.numGroups;
      const groupScore = Array.from({length: groups.numGroups}, (_, g) => {
        const best = biased.slice(g * size, (g + 1) * size).sort((a, b) => b - a);
        return best.slice(0, Math.min(2, size)).reduce((a, b) => a + b, 0);
      });
      const kept = new Set(groupScore.map((v, g) => [v, g]).sort((a, b) => b[0] - a[0] || a[1] - b[1])
                               .slice(0, groups.topKGroups).map(p => p[1]));
      allowed = biased.map((_, j) => kept.has(Math.floor(j / size)));
    }
    const chosen = biased.map((v, j) => [v, j]).filter(p => allowed[p[1]]).sort((a, b) => b[0] - a[0] || a[1] - b[1])
                       .slice(0, k).map(p => p[1]);
    const total = normalize ? chosen.reduce((a, j) => a + s[j], 0) : 1;
    chosen.forEach((j, slot) => {
      indices[t * k + slot] = j;
      gates[t * k + slot] = s[j] / total;
    });
  }
  return {indices, gates, scores};
}

export type DropPolicyRef = 'position'|'slotMajor'|'score';

/**
 * Kept pairs per expert, in priority order (`capacity` < 0: every pair, in
 * pair order): the expected grouping, written per expert. Each expert's pairs
 * are sorted by the policy's key (pair index t·k + s; slot-major s·N + t; or
 * descending gate clamped to finite float32, NaN as the lowest, ties by pair
 * index) and its first `capacity`
 * kept. With a capacity, row e·capacity + i of the static layout holds
 * rowsOfExpert[e][i] and the rest of an expert's slots are empty.
 */
export function dispatchReference(indices: Int32Array, e: number, capacity: number, k = 1,
                                  policy: DropPolicyRef = 'position', gates: ArrayLike<number>|null = null):
    {rowsOfExpert: number[][], dropped: number, counts: number[]} {
  const n = indices.length / k;
  const key = (p: number): number[] => {
    if (capacity < 0 || policy === 'position') return [p];
    if (policy === 'slotMajor') return [(p % k) * n + Math.floor(p / k)];
    // The gate clamped to finite float32, NaN as its lowest value (3.4028234663852886e38 = (2 − 2^−23) · 2^127).
    const max = (2 - 2 ** -23) * 2 ** 127;
    const g = Number.isNaN(gates![p]) ? -max : Math.min(max, Math.max(-max, gates![p]));
    return [-g, p];
  };
  const less = (a: number[], b: number[]) => a[0] - b[0] || (a[1] ?? 0) - (b[1] ?? 0);
  const rowsOfExpert: number[][] = [];
  const counts: number[] = [];
  let dropped = 0;
  for (let ex = 0; ex < e; ++ex) {
    const pairs = [];
    for (let p = 0; p < indices.length; ++p) if (indices[p] === ex) pairs.push(p);
    pairs.sort((a, b) => less(key(a), key(b)));
    const kept = capacity >= 0 ? pairs.slice(0, capacity) : pairs;
    dropped += pairs.length - kept.length;
    counts.push(pairs.length);
    rowsOfExpert.push(kept);
  }
  return {rowsOfExpert, dropped, counts};
}

/** The static layout's sourceRows [E·capacity] (-1 for empty slots) from `dispatchReference`'s grouping. */
export function staticSourceRows(rowsOfExpert: number[][], capacity: number): number[] {
  return rowsOfExpert.flatMap(rows => [...rows, ...new Array(capacity - rows.length).fill(-1)]);
}

/** y[r] = x[r] · W_e (float64) for rows grouped as `rowsOfExpert` sizes. */
export function groupedMatMulReference(x: ArrayLike<number>, w: ArrayLike<number>, sizes: number[], k: number,
                                       h: number): Float64Array {
  const m = sizes.reduce((a, b) => a + b, 0);
  const y = new Float64Array(m * h);
  let r = 0;
  sizes.forEach((rows, e) => {
    for (let i = 0; i < rows; ++i, ++r) {
      for (let j = 0; j < h; ++j) {
        let s = 0;
        for (let q = 0; q < k; ++q) s += x[r * k + q] * w[e * k * h + q * h + j];
        y[r * h + j] = s;
      }
    }
  });
  return y;
}

/**
 * The whole sparse FFN densely: out[t] = Σ_slots kept g · relu(x_t · W1_e) · W2_e.
 */
export function moeFfnReference(x: Float32Array, n: number, d: number, indices: Int32Array, gates: ArrayLike<number>,
                                k: number, w1: ArrayLike<number>, w2: ArrayLike<number>, h: number, u: number,
                                e: number, capacity: number): Float64Array {
  const out = new Float64Array(n * u);
  const {rowsOfExpert} = dispatchReference(indices, e, capacity, k);
  rowsOfExpert.forEach((pairs, ex) => {
    for (const p of pairs) {
      const t = Math.floor(p / k);
      const hidden = new Float64Array(h);
      for (let j = 0; j < h; ++j) {
        let s = 0;
        for (let q = 0; q < d; ++q) s += x[t * d + q] * w1[ex * d * h + q * h + j];
        hidden[j] = Math.max(0, s);
      }
      for (let c = 0; c < u; ++c) {
        let s = 0;
        for (let j = 0; j < h; ++j) s += hidden[j] * w2[ex * h * u + j * u + c];
        out[t * u + c] += gates[p] * s;
      }
    }
  });
  return out;
}

/**
 * out[t] = Σ gates[p] · y[r] over the rows r with p = sourceRows[r], t = p div k
 * (float64), and its gradients for an upstream dOut: dY[r] = gates[p] · dOut[t],
 * dGates[p] = dOut[t] · y[r] for kept pairs and 0 for pairs without a row
 * (rows with sourceRows -1 are empty slots: no output, dY 0).
 */
export function expertCombineReference(y: ArrayLike<number>, sourceRows: ArrayLike<number>, gates: ArrayLike<number>,
                                       n: number, k: number, h: number, dOut: ArrayLike<number>):
    {out: Float64Array, dY: Float64Array, dGates: Float64Array} {
  const m = sourceRows.length;
  const out = new Float64Array(n * h), dY = new Float64Array(m * h), dGates = new Float64Array(n * k);
  for (let r = 0; r < m; ++r) {
    const p = sourceRows[r], t = Math.floor(p / k);
    if (p < 0) continue;  // an empty slot
    for (let j = 0; j < h; ++j) {
      out[t * h + j] += gates[p] * y[r * h + j];
      dY[r * h + j] = gates[p] * dOut[t * h + j];
      dGates[p] += dOut[t * h + j] * y[r * h + j];
    }
  }
  return {out, dY, dGates};
}
