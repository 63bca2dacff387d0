/**
 * Rows of dispatched pairs in forward ops only: what the dispatch and combine
 * composites and their gradients share. A sourceRows entry is a pair index
 * token·k + slot, or -1 for an empty slot of the static (capacity) layout,
 * which reads as zeros and adds nothing. Every differentiable result goes
 * through a customGrad, so no stock-op gradient is needed (tfjs-core alone
 * registers none).
 */
import {cast, customGrad, expandDims, floorDiv, gather, greaterEqual, GradSaveFunc, maximum, mul, reshape, scalar,
        sum, Tensor, Tensor1D, Tensor2D, tidy, zeros} from '@tensorflow/tfjs-core';

import {segmentSum} from './segment_sum';
import {stopGradient} from './tape_util';

/** Empty slots (-1) mapped to pair 0, for gathers, and a float32 mask that is 0 there. */
export function keptRows(sourceRows: Tensor1D): {safe: Tensor1D, valid: Tensor1D} {
  // Off the tape: the rows only select (tfjs would ask GreaterEqual for an int32 gradient).
  const rows = stopGradient(sourceRows);
  return {safe: maximum(rows, scalar(0, 'int32')) as Tensor1D,
          valid: cast(greaterEqual(rows, scalar(0, 'int32')), 'float32') as Tensor1D};
}

/** out[t] = Σ dRows[r] over the rows r of token t = sourceRows[r] div k (empty slots skipped). */
export function rowsToTokens(dRows: Tensor2D, sourceRows: Tensor1D, k: number, n: number): Tensor2D {
  if (dRows.shape[0] === 0 || n === 0) return zeros([n, dRows.shape[1]]) as Tensor2D;
  return tidy(() => {
    const {safe, valid} = keptRows(sourceRows);
    return segmentSum(mul(dRows, expandDims(valid, 1)), floorDiv(safe, scalar(k, 'int32')) as Tensor1D, n) as
        Tensor2D;
  });
}

/**
 * rows[r] = x[sourceRows[r] div k], zeros for empty slots: the data movement
 * of dispatch. Differentiable w.r.t. x (its gradient is `rowsToTokens`).
 */
export function tokenRowsOfPairs(x: Tensor2D, sourceRows: Tensor1D, k: number): Tensor2D {
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const [xs, rows] = args as [Tensor2D, Tensor1D];
    (args[2] as GradSaveFunc)([rows]);
    const value = tidy(() => {
      const {safe, valid} = keptRows(rows);
      return mul(gather(xs, floorDiv(safe, scalar(k, 'int32'))), expandDims(valid, 1));
    });
    return {
      value,
      gradFunc: (dy: Tensor, [saved]: Tensor[]) =>
          [rowsToTokens(dy as Tensor2D, saved as Tensor1D, k, xs.shape[0]), zeros(saved.shape)],
    };
  });
  // The row indices only select: a second handle the tape does not know.
  return f(x, stopGradient(sourceRows)) as Tensor2D;
}

/** out [N, H] = Σ_s gates[t, s] · y[row of (t, s)] (forward only; M, N > 0). */
export function combineRows(y: Tensor2D, sourceRows: Tensor1D, gates: Tensor2D): Tensor2D {
  const [n, k] = gates.shape;
  return tidy(() => {
    const {safe, valid} = keptRows(sourceRows);
    const g = mul(gather(reshape(gates, [n * k]), safe), valid);
    return segmentSum(mul(y, expandDims(g, 1)), floorDiv(safe, scalar(k, 'int32')) as Tensor1D, n) as Tensor2D;
  });
}

/**
 * Gradient of `combineRows`: dy[r] = g[p]·dOut[t] and dGates[p] = dOut[t]·y[r]
 * for the kept rows (p = sourceRows[r], t = p div k), 0 elsewhere.
 */
export function expertCombineBackward(dOut: Tensor2D, y: Tensor2D, sourceRows: Tensor1D, gates: Tensor2D):
    [Tensor2D, Tensor2D] {
  const [n, k] = gates.shape;
  if (y.shape[0] === 0 || n === 0) return [zeros(y.shape) as Tensor2D, zeros(gates.shape) as Tensor2D];
  return tidy(() => {
    const {safe, valid} = keptRows(sourceRows);
    const dOutRows = gather(dOut, floorDiv(safe, scalar(k, 'int32')));
    // dGates first, in its own scope: its [M, H] product is freed before dy is made (peak 2·M·H, not 3).
    const dGates = tidy(() => reshape(segmentSum(mul(sum(mul(dOutRows, y), 1), valid), safe, n * k), [n, k])) as
        Tensor2D;
    const g = mul(gather(reshape(gates, [n * k]), safe), valid);
    const dy = mul(dOutRows, expandDims(g, 1)) as Tensor2D;
    return [dy, dGates] as [Tensor2D, Tensor2D];
  });
}
