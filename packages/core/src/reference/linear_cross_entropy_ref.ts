/**
 * Float64 reference of linearCrossEntropy, written as the naive N×V
 * computation so it shares nothing with the kernels it checks. It follows
 * the definitions of `SluiceLinearCrossEntropy` in kernel_names.ts literally:
 * masked classes (bias −Inf), classWeights (PyTorch's `weight`), entropy,
 * both classifier layouts, and NaN rows for labels outside [0, V).
 * `torch_lce_fixture.ts` records PyTorch's
 * torch.nn.functional.linear_cross_entropy (weight, label_smoothing) on
 * unmasked vocabularies, and the contract suite checks this reference
 * against it.
 */
export interface LceRefInput {
  n: number; d: number; v: number;
  embeddings: ArrayLike<number>;  // [N, D]
  classifier: ArrayLike<number>;  // [V, D], or [D, V] when classifierLayout is 'dv'
  labels: ArrayLike<number>;      // [N]
  bias?: ArrayLike<number>;       // [V]; −Inf masks a class
  classWeights?: ArrayLike<number>;  // [V]
  classifierLayout?: 'vd'|'dv';
  ignoreIndex?: number;
  softcap?: number;
  labelSmoothing?: number;
  zLoss?: number;
  maxSup?: number;
}

export interface LceRefForward {
  losses: Float64Array;  // per token, 0 where ignored
  lse: Float64Array;
  argmax: Int32Array;
  entropy: Float64Array;
  /** The z-loss term zLoss·w_y·lse² per token (0 where ignored): `returnZLoss`. */
  zLossTerms: Float64Array;
  logits: Float64Array;  // [N, V] final logits z (−Inf for masked classes)
  capDerivative: Float64Array;  // [N, V] dz/dx (0 for masked classes)
}

/** classifier[j, k] in either layout. */
export function classifierAt(r: LceRefInput, j: number, k: number): number {
  return r.classifierLayout === 'dv' ? r.classifier[k * r.v + j] : r.classifier[j * r.d + k];
}

function isMasked(r: LceRefInput, j: number): boolean {
  return r.bias != null && r.bias[j] === -Infinity;
}

function weightOf(r: LceRefInput, j: number): number {
  return r.classWeights ? r.classWeights[j] : 1;
}

function isKept(r: LceRefInput, i: number): boolean {
  return r.labels[i] !== (r.ignoreIndex ?? -100);
}

function inRange(r: LceRefInput, y: number): boolean {
  return Number.isInteger(y) && y >= 0 && y < r.v;
}

/** V_u and S = Σ_{c∈U} w_c. */
function unmaskedStats(r: LceRefInput): {vu: number, sumW: number} {
  let vu = 0, sumW = 0;
  for (let j = 0; j < r.v; ++j) {
    if (!isMasked(r, j)) {
      ++vu;
      sumW += weightOf(r, j);
    }
  }
  return {vu, sumW};
}

export function lceReferenceForward(r: LceRefInput): LceRefForward {
  const {n, d, v} = r;
  const cap = r.softcap ?? 0, ls = r.labelSmoothing ?? 0, zl = r.zLoss ?? 0, alpha = r.maxSup ?? 0;
  const {vu, sumW} = unmaskedStats(r);
  const logits = new Float64Array(n * v), capDerivative = new Float64Array(n * v);
  const losses = new Float64Array(n), lse = new Float64Array(n), argmax = new Int32Array(n);
  const entropy = new Float64Array(n), zLossTerms = new Float64Array(n);
  for (let i = 0; i < n; ++i) {
    let best = -Infinity, bestJ = 0, total = 0, weighted = 0;
    for (let j = 0; j < v; ++j) {
      if (isMasked(r, j)) {
        logits[i * v + j] = -Infinity;
        continue;
      }
      let x = r.bias ? r.bias[j] : 0;
      for (let k = 0; k < d; ++k) {
        x += r.embeddings[i * d + k] * classifierAt(r, j, k);
      }
      const z = cap > 0 ? cap * Math.tanh(x / cap) : x;
      logits[i * v + j] = z;
      capDerivative[i * v + j] = cap > 0 ? 1 - Math.tanh(x / cap) ** 2 : 1;
      if (z > best) {
        best = z;
        bestJ = j;
      }
      total += z;
      weighted += weightOf(r, j) * z;
    }
    let s = 0, pz = 0;
    for (let j = 0; j < v; ++j) {
      if (!isMasked(r, j)) {
        const e = Math.exp(logits[i * v + j] - best);
        s += e;
        pz += e * logits[i * v + j];
      }
    }
    // vu = 0 leaves s = 0 and best = −Inf: lse = NaN, so every loss is NaN.
    lse[i] = vu === 0 ? NaN : best + Math.log(s);
    argmax[i] = bestJ;
    entropy[i] = lse[i] - pz / s;
    if (!isKept(r, i)) {
      continue;
    }
    const y = r.labels[i];
    if (!inRange(r, y)) {
      losses[i] = NaN;
      zLossTerms[i] = NaN;
      continue;
    }
    const wy = weightOf(r, y);
    const zy = logits[i * v + y];  // −Inf at a masked class: loss +Inf
    const rowMean = total / vu;
    zLossTerms[i] = zl * wy * lse[i] ** 2;
    losses[i] = (1 - ls) * wy * (lse[i] - zy) + (ls / vu) * (sumW * lse[i] - weighted) + zLossTerms[i] +
        alpha * wy * (best - rowMean);
  }
  return {losses, lse, argmax, entropy, zLossTerms, logits, capDerivative};
}

export interface LceRefGradients {
  dEmbeddings: Float64Array;  // [N, D]
  dClassifier: Float64Array;  // in the classifier's layout: [V, D] or [D, V]
  dBias: Float64Array;        // [V]
}

/**
 * Gradients for upstream gradients `dLosses` of the per-token losses and
 * `dLse` of the lse. A kept token whose label is outside [0, V) gets a NaN
 * dL/dz row (so its dEmbeddings row, and every dClassifier and dBias entry,
 * are NaN). Labels at masked classes are not covered (their loss is +Inf).
 */
export function lceReferenceBackward(r: LceRefInput, fwd: LceRefForward, dLosses: ArrayLike<number>,
                                     dLse?: ArrayLike<number>): LceRefGradients {
  const {n, d, v} = r;
  const ls = r.labelSmoothing ?? 0, zl = r.zLoss ?? 0, alpha = r.maxSup ?? 0;
  const {vu, sumW} = unmaskedStats(r);
  const dv = r.classifierLayout === 'dv';
  const dEmbeddings = new Float64Array(n * d), dClassifier = new Float64Array(v * d), dBias = new Float64Array(v);
  for (let i = 0; i < n; ++i) {
    const kept = isKept(r, i);
    const y = r.labels[i];
    const g = kept ? dLosses[i] : 0;
    const h = dLse ? dLse[i] : 0;
    const nanRow = kept && !inRange(r, y);
    const wy = kept && !nanRow ? weightOf(r, y) : 0;
    const l = fwd.lse[i];
    for (let j = 0; j < v; ++j) {
      if (isMasked(r, j)) {
        continue;  // exactly 0
      }
      const p = Math.exp(fwd.logits[i * v + j] - l);
      let dz = nanRow ? NaN :
          g * ((1 - ls) * wy * p + (ls / vu) * (sumW * p - weightOf(r, j)) + 2 * zl * wy * l * p - alpha * wy / vu) +
              h * p;
      if (j === y) {
        dz -= g * (1 - ls) * wy;
      }
      if (j === fwd.argmax[i]) {
        dz += g * alpha * wy;
      }
      const dx = dz * fwd.capDerivative[i * v + j];
      dBias[j] += dx;
      for (let k = 0; k < d; ++k) {
        dEmbeddings[i * d + k] += dx * classifierAt(r, j, k);
        dClassifier[dv ? k * v + j : j * d + k] += dx * r.embeddings[i * d + k];
      }
    }
  }
  return {dEmbeddings, dClassifier, dBias};
}

/** Σ_{kept i} w_{y_i}: what 'mean' divides by (PyTorch's weighted mean). */
export function lceReferenceMeanDivisor(r: LceRefInput): number {
  let total = 0;
  for (let i = 0; i < r.n; ++i) {
    if (isKept(r, i)) {
      const y = r.labels[i];
      total += inRange(r, y) ? weightOf(r, y) : NaN;
    }
  }
  return total;
}

/** The reduced loss as the op defines it ('mean': 0 when the divisor is 0). */
export function lceReferenceReduce(r: LceRefInput, losses: ArrayLike<number>, reduction: 'mean'|'sum'): number {
  let total = 0;
  for (let i = 0; i < r.n; ++i) {
    total += losses[i];
  }
  if (reduction === 'sum') {
    return total;
  }
  const divisor = lceReferenceMeanDivisor(r);
  return divisor === 0 ? 0 : total / divisor;
}

/** The upstream gradient of every per-token loss under `reduction`. */
export function lceReferenceReductionGradient(r: LceRefInput, reduction: 'mean'|'sum'): Float64Array {
  const divisor = lceReferenceMeanDivisor(r);
  return new Float64Array(r.n).fill(reduction === 'sum' ? 1 : divisor === 0 ? 0 : 1 / divisor);
}

/**
 * Labels for `shift`: hidden [B, T, D] with labels [B, T], position t
 * predicts label t + 1; the last position of each row gets ignoreIndex.
 * Returns the flattened [B·T] labels.
 */
export function lceReferenceShiftLabels(labels: ArrayLike<number>, rows: number, t: number,
                                        ignoreIndex = -100): Int32Array {
  const out = new Int32Array(rows * t);
  for (let b = 0; b < rows; ++b) {
    for (let s = 0; s < t; ++s) {
      out[b * t + s] = s + 1 < t ? labels[b * t + s + 1] : ignoreIndex;
    }
  }
  return out;
}

/** [B·T] per-token values to the shifted outputs' [B, T − 1] (the last position of each row dropped). */
export function lceReferenceDropLast(values: ArrayLike<number>, rows: number, t: number): Float64Array {
  const out = new Float64Array(rows * (t - 1));
  for (let b = 0; b < rows; ++b) {
    for (let s = 0; s + 1 < t; ++s) {
      out[b * (t - 1) + s] = values[b * t + s];
    }
  }
  return out;
}
