/**
 * Float64 references for the suite, written from the formulas in DESIGN.md
 * with plain loops (no tfjs): per-sample cross-entropy with label smoothing,
 * z-loss, MaxSup and ignore index; logit penalty; z-loss; logits from hidden
 * states; central finite differences.
 */

export interface RefTerms {
  ls: number;
  z: number;
  alpha: number;
  ignore: number|null;
}

/** A class id, or a (soft) target row of length V. */
export type RefTarget = number|ArrayLike<number>;

function rowStats(z: ArrayLike<number>) {
  let m = -Infinity, sum = 0;
  for (let j = 0; j < z.length; ++j) {
    m = Math.max(m, z[j]);
    sum += z[j];
  }
  let s = 0;
  for (let j = 0; j < z.length; ++j) s += Math.exp(z[j] - m);
  return {max: m, mean: sum / z.length, lse: m + Math.log(s)};
}

/** Σ_j t_j (lse − z_j) + z·lse² + α(max − mean), t = (1 − ls)·y + ls/V; 0 for an ignored id. */
export function refRow(z: ArrayLike<number>, target: RefTarget, o: RefTerms): number {
  if (typeof target === 'number' && target === o.ignore) return 0;
  const v = z.length;
  const {max, mean, lse} = rowStats(z);
  let ce = 0;
  for (let j = 0; j < v; ++j) {
    const y = typeof target === 'number' ? (j === target ? 1 : 0) : target[j];
    ce += ((1 - o.ls) * y + o.ls / v) * (lse - z[j]);
  }
  return ce + o.z * lse * lse + o.alpha * (max - mean);
}

/** Per-sample losses of logits z [B, V] (row-major). targets: B class ids or B·V soft values. */
export function refLosses(z: ArrayLike<number>, v: number, targets: ArrayLike<number>, soft: boolean,
                          o: RefTerms): Float64Array {
  const b = z.length / v;
  const out = new Float64Array(b);
  for (let i = 0; i < b; ++i) {
    const row = Array.prototype.slice.call(z, i * v, (i + 1) * v) as number[];
    const t = soft ? Array.prototype.slice.call(targets, i * v, (i + 1) * v) as number[] : targets[i];
    out[i] = refRow(row, t, o);
  }
  return out;
}

export function refLogitPenalty(z: ArrayLike<number>, v: number, weight: number): Float64Array {
  return Float64Array.from({length: z.length / v}, (_, i) => {
    let s = 0;
    for (let j = 0; j < v; ++j) s += z[i * v + j] ** 2;
    return weight * s / v;
  });
}

export function refZLoss(z: ArrayLike<number>, v: number, weight: number): Float64Array {
  return Float64Array.from({length: z.length / v}, (_, i) => {
    const {lse} = rowStats(Array.prototype.slice.call(z, i * v, (i + 1) * v) as number[]);
    return weight * lse * lse;
  });
}

/** hidden [N, D] · classifier [V, D]ᵀ + bias [V] in float64. */
export function refLogits(hidden: ArrayLike<number>, classifier: ArrayLike<number>, bias: ArrayLike<number>|null,
                          n: number, d: number, v: number): Float64Array {
  const z = new Float64Array(n * v);
  for (let i = 0; i < n; ++i) {
    for (let j = 0; j < v; ++j) {
      let s = bias == null ? 0 : bias[j];
      for (let q = 0; q < d; ++q) s += hidden[i * d + q] * classifier[j * d + q];
      z[i * v + j] = s;
    }
  }
  return z;
}

/** ∂f/∂x by central differences in float64 (f smooth away from ties of the max). */
export function numericGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const g = new Float64Array(x0.length);
  const x = Float64Array.from(x0);
  for (let i = 0; i < x.length; ++i) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}
