/**
 * Float64 reference of linearCrossEntropy, written as the naive N×V
 * computation so it shares nothing with the kernels it checks.
 */
export interface LceRefInput {
  n: number; d: number; v: number;
  embeddings: ArrayLike<number>;  // [N, D]
  classifier: ArrayLike<number>;  // [V, D]
  labels: ArrayLike<number>;      // [N]
  bias?: ArrayLike<number>;       // [V]
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
  logits: Float64Array;  // [N, V] final logits z (the reference may hold them)
  capDerivative: Float64Array;  // [N, V] dz/dx
}

export function lceReferenceForward(r: LceRefInput): LceRefForward {
  const {n, d, v} = r;
  const cap = r.softcap ?? 0, ls = r.labelSmoothing ?? 0, zl = r.zLoss ?? 0, alpha = r.maxSup ?? 0;
  const ignore = r.ignoreIndex ?? -100;
  const logits = new Float64Array(n * v), capDerivative = new Float64Array(n * v);
  const losses = new Float64Array(n), lse = new Float64Array(n), argmax = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    let best = -Infinity, bestJ = 0, total = 0;
    for (let j = 0; j < v; ++j) {
      let x = r.bias ? r.bias[j] : 0;
      for (let k = 0; k < d; ++k) {
        x += r.embeddings[i * d + k] * r.classifier[j * d + k];
      }
      const z = cap > 0 ? cap * Math.tanh(x / cap) : x;
      logits[i * v + j] = z;
      capDerivative[i * v + j] = cap > 0 ? 1 - Math.tanh(x / cap) ** 2 : 1;
      if (z > best) {
        best = z;
        bestJ = j;
      }
      total += z;
    }
    let s = 0;
    for (let j = 0; j < v; ++j) {
      s += Math.exp(logits[i * v + j] - best);
    }
    lse[i] = best + Math.log(s);
    argmax[i] = bestJ;
    const y = r.labels[i];
    if (y === ignore) {
      continue;
    }
    const rowMean = total / v;
    losses[i] = lse[i] - (1 - ls) * logits[i * v + y] - ls * rowMean + zl * lse[i] ** 2 + alpha * (best - rowMean);
  }
  return {losses, lse, argmax, logits, capDerivative};
}

export interface LceRefGradients {
  dEmbeddings: Float64Array;  // [N, D]
  dClassifier: Float64Array;  // [V, D]
  dBias: Float64Array;        // [V]
}

/** Gradients for upstream gradients `dLosses` of the per-token losses and `dLse` of the lse. */
export function lceReferenceBackward(r: LceRefInput, fwd: LceRefForward, dLosses: ArrayLike<number>,
                                     dLse?: ArrayLike<number>): LceRefGradients {
  const {n, d, v} = r;
  const ls = r.labelSmoothing ?? 0, zl = r.zLoss ?? 0, alpha = r.maxSup ?? 0;
  const ignore = r.ignoreIndex ?? -100;
  const dEmbeddings = new Float64Array(n * d), dClassifier = new Float64Array(v * d), dBias = new Float64Array(v);
  for (let i = 0; i < n; ++i) {
    const kept = r.labels[i] !== ignore;
    const g = kept ? dLosses[i] : 0;
    const h = dLse ? dLse[i] : 0;
    for (let j = 0; j < v; ++j) {
      const p = Math.exp(fwd.logits[i * v + j] - fwd.lse[i]);
      let dz = p * (g * (1 + 2 * zl * fwd.lse[i]) + h) - g * (ls + alpha) / v;
      if (j === r.labels[i]) {
        dz -= g * (1 - ls);
      }
      if (j === fwd.argmax[i]) {
        dz += g * alpha;
      }
      const dx = dz * fwd.capDerivative[i * v + j];
      dBias[j] += dx;
      for (let k = 0; k < d; ++k) {
        dEmbeddings[i * d + k] += dx * r.classifier[j * d + k];
        dClassifier[j * d + k] += dx * r.embeddings[i * d + k];
      }
    }
  }
  return {dEmbeddings, dClassifier, dBias};
}

/** The reduced loss as the op defines it. */
export function lceReferenceReduce(r: LceRefInput, losses: Float64Array, reduction: 'mean'|'sum'): number {
  const ignore = r.ignoreIndex ?? -100;
  let total = 0, kept = 0;
  for (let i = 0; i < r.n; ++i) {
    total += losses[i];
    kept += r.labels[i] === ignore ? 0 : 1;
  }
  return reduction === 'sum' ? total : total / Math.max(kept, 1);
}
