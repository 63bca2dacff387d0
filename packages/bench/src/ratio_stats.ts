/**
 * Medians of per-round ratios and their distribution-free confidence
 * intervals. A timing on a shared machine is the work plus a load that comes
 * and goes; nothing about that noise is normal, so the interval rests only on
 * the rounds being independent: the median lies between the j-th and the
 * (n+1-j)-th smallest of n values with probability 1 − 2·P(Bin(n, ½) < j).
 */

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median: expected at least one value, got none');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** P(Bin(n, ½) ≤ k), summed exactly in float64 (n up to ~1000 keeps 2^-n representable). */
function binomialHalfCdf(n: number, k: number): number {
  let term = Math.pow(0.5, n), sum = 0;
  for (let i = 0; i <= k; ++i) {
    sum += term;
    term *= (n - i) / (i + 1);
  }
  return sum;
}

export interface MedianInterval {
  lo: number;
  hi: number;
  /** The interval's exact coverage (≥ the level asked for), or NaN when n is too small for any. */
  coverage: number;
}

/**
 * The order-statistic interval for the median with coverage at least `level`:
 * the widest-ranked j with 1 − 2·P(Bin(n, ½) ≤ j − 1) ≥ level. With fewer values
 * than that needs (n < 6 at 95%) there is no such interval: lo/hi are the
 * extremes and coverage is NaN, so a table can say so instead of implying one.
 */
export function medianInterval(xs: number[], level = 0.95): MedianInterval {
  if (!(level > 0 && level < 1)) throw new Error(`medianInterval: expected level in (0, 1), got ${level}`);
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) throw new Error('medianInterval: expected at least one value, got none');
  let j = 0;  // 1-based rank of the lower end; 0 = none found
  for (let r = 1; r <= n >> 1; ++r) {
    if (1 - 2 * binomialHalfCdf(n, r - 1) >= level) j = r; else break;
  }
  if (j === 0) return {lo: s[0], hi: s[n - 1], coverage: NaN};
  return {lo: s[j - 1], hi: s[n - j], coverage: 1 - 2 * binomialHalfCdf(n, j - 1)};
}
