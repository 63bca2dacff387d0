/**
 * SluiceExpertCombine for tfjs-node's 'tensorflow' backend. The row of each
 * (token, slot) pair is found on the host from sourceRows (a small int32
 * read). When every pair has exactly one row (dropless dispatch), the rows
 * are gathered in pair order by the inverse permutation, [N, k, H], weighted
 * by the gates and summed over the k slots: two TensorFlow ops over the data
 * and a reduction, all multi-threaded. Otherwise (dropped pairs, or rows not
 * from a dispatch) each row is scaled by its pair's gate and summed into its
 * token with UnsortedSegmentSum, so a pair without a row adds exactly 0;
 * rows of empty slots (sourceRows -1, the static capacity layout) are left
 * out of that gather.
 */
import {KernelConfig, KernelFunc, tensor1d, tidy} from '@tensorflow/tfjs-core';
import {SluiceExpertCombine, SluiceExpertCombineInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

/** Row of each pair when sourceRows is a permutation of [0, N·k), else null. */
function inversePermutation(sourceRows: Int32Array, pairs: number): Int32Array|null {
  if (sourceRows.length !== pairs) return null;
  const inv = new Int32Array(pairs).fill(-1);
  for (let r = 0; r < pairs; ++r) {
    const p = sourceRows[r];
    if (inv[p] !== -1) return null;
    inv[p] = r;
  }
  return inv;
}

export const sluiceExpertCombine: KernelFunc = ({inputs, backend}) => {
  const {y, sourceRows, gates} = inputs as unknown as SluiceExpertCombineInputs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const [m, h] = y.shape;
  const [n, k] = gates.shape;
  if (m === 0 || n === 0) return ops.fill([n, h], 0);
  const rows = ops.readInts(sourceRows);
  const inv = inversePermutation(rows, n * k);
  return tidy(() => {
    if (inv != null) {
      const rowOfPair = tensor1d(inv, 'int32');
      const gathered = ops.reshape(ops.gatherRows(y, rowOfPair), [n, k, h]);
      const weighted = ops.binary('Mul', gathered, ops.reshape(gates, [n, k, 1]));
      return ops.reduce('Sum', weighted, [1]);
    }
    const kept: number[] = [];
    for (let r = 0; r < m; ++r) if (rows[r] >= 0) kept.push(r);
    if (kept.length === 0) return ops.fill([n, h], 0);
    const all = kept.length === m;
    const keptY = all ? y : ops.gatherRows(y, tensor1d(kept, 'int32'));
    const keptPairs = all ? sourceRows : tensor1d(kept.map(r => rows[r]), 'int32');
    const rowGates = ops.reshape(ops.gatherRows(ops.reshape(gates, [n * k]), keptPairs), [kept.length, 1]);
    const tokens = Int32Array.from(kept, r => (rows[r] / k) | 0);
    return ops.unsortedSegmentSum(ops.binary('Mul', keptY, rowGates), tensor1d(tokens, 'int32'), n);
  });
};

export const sluiceExpertCombineConfig: KernelConfig = {
  kernelName: SluiceExpertCombine,
  backendName: 'tensorflow',
  kernelFunc: sluiceExpertCombine,
};
