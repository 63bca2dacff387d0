/** Seeded uniform generator (mulberry32): test data must be reproducible from a printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32-representable uniforms in [lo, hi), so the float64 reference sees the exact inputs. */
export function uniformArray(rand: () => number, size: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; ++i) {
    out[i] = lo + (hi - lo) * rand();
  }
  return out;
}

export function randomLabels(rand: () => number, n: number, v: number, ignoreIndex: number,
                             ignoreFraction: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    out[i] = rand() < ignoreFraction ? ignoreIndex : Math.min(v - 1, Math.floor(rand() * v));
  }
  return out;
}
