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

export function routeTopKReference(logits: Float32Array, n: number, e: number, k: number,
                                   scoring: 'softmax'|'sigmoid', bias: Float32Array|null, normalize: boolean):
    {indices: Int32Array, gates: Float64Array} {
  const indices = new Int32Array(n * k), gates = new Float64Array(n * k);
  for (let t = 0; t < n; ++t) {
    const z = Array.from(logits.subarray(t * e, (t + 1) * e));
    const s = routerScoresReference(z, scoring);
    const chosen = s.map((v, j) => [v + (bias ? bias[j] : 0), j]).sort((a, b) => b[0] - a[0] || a[1] - b[1])
                       .slice(0, k).map(p => p[1]);
    const total = normalize ? chosen.reduce((a, j) => a + s[j], 0) : 1;
    chosen.forEach((j, slot) => {
      indices[t * k + slot] = j;
      gates[t * k + slot] = s[j] / total;
    });
  }
  return {indices, gates};
}

/** Kept pairs per expert, in pair order: the expected grouping. */
export function dispatchReference(indices: Int32Array, e: number, capacity: number):
    {rowsOfExpert: number[][], dropped: number} {
  const rowsOfExpert: number[][] = [];
  let dropped = 0;
  for (let ex = 0; ex < e; ++ex) {
    const pairs = [];
    for (let p = 0; p < indices.length; ++p) if (indices[p] === ex) pairs.push(p);
    const kept = capacity >= 0 ? pairs.slice(0, capacity) : pairs;
    dropped += pairs.length - kept.length;
    rowsOfExpert.push(kept);
  }
  return {rowsOfExpert, dropped};
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
  const {rowsOfExpert} = dispatchReference(indices, e, capacity);
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
 * dGates[p] = dOut[t] · y[r] for kept pairs and 0 for pairs without a row.
 */
export function expertCombineReference(y: ArrayLike<number>, sourceRows: ArrayLike<number>, gates: ArrayLike<number>,
                                       n: number, k: number, h: number, dOut: ArrayLike<number>):
    {out: Float64Array, dY: Float64Array, dGates: Float64Array} {
  const m = sourceRows.length;
  const out = new Float64Array(n * h), dY = new Float64Array(m * h), dGates = new Float64Array(n * k);
  for (let r = 0; r < m; ++r) {
    const p = sourceRows[r], t = Math.floor(p / k);
    for (let j = 0; j < h; ++j) {
      out[t * h + j] += gates[p] * y[r * h + j];
      dY[r * h + j] = gates[p] * dOut[t * h + j];
      dGates[p] += dOut[t * h + j] * y[r * h + j];
    }
  }
  return {out, dY, dGates};
}
