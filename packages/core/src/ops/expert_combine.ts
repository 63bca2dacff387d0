import {op, Tensor1D, Tensor2D, TensorLike} from '@tensorflow/tfjs-core';

import {assertTensor, fail, hostValues, runKernelOrComposite, toTensor} from '../internal';
import {SluiceExpertCombine, SluiceExpertCombineInputs} from '../kernel_names';

const OP = 'expertCombine';

function expertCombine_(yIn: Tensor2D|TensorLike, sourceRowsIn: Tensor1D|TensorLike,
                        gatesIn: Tensor2D|TensorLike): Tensor2D {
  const y = toTensor(OP, 'y', yIn, 'float32', '[M, H]') as Tensor2D;
  const sourceRows = toTensor(OP, 'sourceRows', sourceRowsIn, 'int32', '[M]') as Tensor1D;
  const gates = toTensor(OP, 'gates', gatesIn, 'float32', '[N, k]') as Tensor2D;
  assertTensor(OP, 'y', y, 2, ['float32'], '[M, H]');
  assertTensor(OP, 'sourceRows', sourceRows, 1, ['int32'], '[M]');
  assertTensor(OP, 'gates', gates, 2, ['float32'], '[N, k]');
  if (sourceRows.shape[0] !== y.shape[0]) {
    fail(OP, 'sourceRows', `of shape [${y.shape[0]}] (M from y)`, `shape [${sourceRows.shape.join(',')}]`);
  }
  const pairs = gates.shape[0] * gates.shape[1];
  const rows = hostValues(sourceRows);
  if (rows != null) {
    for (let r = 0; r < rows.length; ++r) {
      if (!(rows[r] >= -1 && rows[r] < pairs)) {
        fail(OP, `sourceRows[${r}]`, `in [-1, ${pairs}) (-1: an empty slot; N·k from gates [${gates.shape.join(',')}])`,
             String(rows[r]));
      }
    }
  }
  const inputs: SluiceExpertCombineInputs = {y, sourceRows, gates};
  return runKernelOrComposite(SluiceExpertCombine, inputs)[0] as Tensor2D;
}

/**
 * Scatters expert outputs `y` [M, H] back to their tokens, weighted by the
 * gates: out[t] = Σ_s gates[t, s] · y[row of pair (t, s)]. Dropped pairs
 * have no row and add nothing; rows with sourceRows -1 (empty slots of the
 * static capacity layout) are skipped. Differentiable w.r.t. y and gates.
 *
 * ```js
 * const out = expertCombine(y, sourceRows, gates);  // [N, H]
 * ```
 */
export const expertCombine = op({expertCombine_}) as
    (y: Tensor2D|TensorLike, sourceRows: Tensor1D|TensorLike, gates: Tensor2D|TensorLike) => Tensor2D;

