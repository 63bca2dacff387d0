import {engine, expandDims, floorDiv, gather, mul, NamedTensorMap, op, reshape, scalar, Tensor1D,
        Tensor2D} from '@tensorflow/tfjs-core';

import {assertTensor, fail} from '../errors';
import {useRegisteredKernel} from '../kernel_dispatch';
import {SluiceExpertCombine, SluiceExpertCombineInputs} from '../kernel_names';
import {hostValues} from './host_values';
import {embeddingLookup, segmentSum} from './segment_sum';
import {emptyResult, stopGradient} from './tape_util';

const OP = 'expertCombine';

/** Composite: weight each row by its gate, then segment-sum rows into their tokens. */
export function expertCombineComposite(y: Tensor2D, sourceRows: Tensor1D, gates: Tensor2D): Tensor2D {
  const [n, k] = gates.shape;
  const h = y.shape[1];
  // No kernel on empty tensors (webgpu rejects zero-size bindings).
  if (y.shape[0] === 0 || n === 0) return emptyResult([n, h], [y, gates]) as Tensor2D;
  // Row indices only select: off the tape, or tfjs would ask them for a (float) gradient.
  const rows = stopGradient(sourceRows);
  const g = embeddingLookup(reshape(gates, [n * k]), rows);
  return segmentSum(mul(y, expandDims(g, 1)), floorDiv(rows, scalar(k, 'int32')) as Tensor1D, n) as Tensor2D;
}

function expertCombine_(y: Tensor2D, sourceRows: Tensor1D, gates: Tensor2D): Tensor2D {
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
      if (!(rows[r] >= 0 && rows[r] < pairs)) {
        fail(OP, `sourceRows[${r}]`, `in [0, ${pairs}) (N·k from gates [${gates.shape.join(',')}])`, String(rows[r]));
      }
    }
  }
  if (useRegisteredKernel(SluiceExpertCombine)) {
    const inputs: SluiceExpertCombineInputs = {y, sourceRows, gates};
    return engine().runKernel(SluiceExpertCombine, inputs as unknown as NamedTensorMap) as Tensor2D;
  }
  return expertCombineComposite(y, sourceRows, gates);
}

/**
 * Scatters expert outputs `y` [M, H] back to their tokens, weighted by the
 * gates: out[t] = Σ_s gates[t, s] · y[row of pair (t, s)]. Dropped pairs
 * have no row and add nothing. Differentiable w.r.t. y and gates.
 *
 * ```js
 * const out = expertCombine(y, sourceRows, gates);  // [N, H]
 * ```
 */
export const expertCombine = op({expertCombine_});

