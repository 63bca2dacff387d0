/**
 * Elementwise |actual − expected| ≤ tol · max(1, max|expected|): the error is
 * judged against the tensor's own scale, so one tolerance fits losses of
 * order 10 and gradients of order 1e-3 alike.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string) {
  expect(actual.length).withContext(`${what}: length`).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; ++i) {
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  let worst = 0, worstAt = -1;
  for (let i = 0; i < expected.length; ++i) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= worst)) {  // also catches NaN
      worst = err;
      worstAt = i;
    }
  }
  const ok = Number.isFinite(worst) && worst <= tol * scale;
  expect(ok).withContext(`${what}: max error ${worst} at [${worstAt}] (actual ${actual[worstAt]}, expected ` +
                         `${expected[worstAt]}) exceeds ${tol} × scale ${scale}`).toBe(true);
}

/** Float32 tolerance for the active backend: GPU exp/log and reductions are looser. */
export function backendTolerance(backendName: string): number {
  return backendName === 'cpu' || backendName === 'tensorflow' ? 2e-4 : 2e-3;
}
