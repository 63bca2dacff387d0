import {op, Scalar, Tensor1D, Tensor2D} from '@tensorflow/tfjs-core';

import {assertInteger, assertKnownKeys, assertTensor, fail, hostValues, runKernelOrComposite} from '../internal';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '../kernel_names';

const OP = 'expertDispatch';

export interface ExpertDispatchOptions {
  /** Rows each expert keeps, in (token, slot) order; the rest are dropped. Default: dropless. */
  capacity?: number;
}

export interface ExpertDispatchResult {
  dispatched: Tensor2D;     // [M, D] grouped by expert
  expertOffsets: Tensor1D;  // int32 [E + 1]
  sourceRows: Tensor1D;     // int32 [M], index token·k + slot
  droppedCount: Scalar;     // int32
}

/** Checks indices ∈ [0, E) when they can be read cheaply (see host_values.ts), naming the first bad one. */
export function assertExpertIndices(op: string, expertIndices: Tensor2D, numExperts: number) {
  const values = hostValues(expertIndices);
  if (values == null) return;
  const k = expertIndices.shape[1];
  for (let p = 0; p < values.length; ++p) {
    if (!(values[p] >= 0 && values[p] < numExperts)) {
      fail(op, `expertIndices[${Math.floor(p / k)}][${p % k}]`, `in [0, ${numExperts})`, String(values[p]));
    }
  }
}

function expertDispatch_(x: Tensor2D, expertIndices: Tensor2D, numExperts: number,
                         options: ExpertDispatchOptions = {}): ExpertDispatchResult {
  assertTensor(OP, 'x', x, 2, ['float32'], '[N, D]');
  assertTensor(OP, 'expertIndices', expertIndices, 2, ['int32'], '[N, k]');
  if (expertIndices.shape[0] !== x.shape[0]) {
    fail(OP, 'expertIndices', `of shape [${x.shape[0]}, k] (N from x)`, `shape [${expertIndices.shape.join(',')}]`);
  }
  if (expertIndices.shape[1] < 1) {
    fail(OP, 'expertIndices', 'of shape [N, k] with k >= 1', `shape [${expertIndices.shape.join(',')}]`);
  }
  assertInteger(OP, 'numExperts', numExperts, 1);
  assertKnownKeys(OP, 'options', options, ['capacity']);
  const capacity = options.capacity === undefined ? -1 : assertInteger(OP, 'options.capacity', options.capacity, 0);
  assertExpertIndices(OP, expertIndices, numExperts);
  // No expert can receive more than the N·k pairs, so a capacity that large (1e9 or MAX_SAFE_INTEGER
  // for "unlimited") drops nothing: it runs as dropless. Kernels take capacity as an int32, where 2^31
  // and up would wrap (2^32 became 0 and dropped every pair).
  const pairs = expertIndices.shape[0] * expertIndices.shape[1];
  const attrs: SluiceExpertDispatchAttrs = {numExperts, capacity: capacity >= pairs ? -1 : capacity};
  const inputs: SluiceExpertDispatchInputs = {x, expertIndices};
  const [dispatched, expertOffsets, sourceRows, droppedCount] = runKernelOrComposite(SluiceExpertDispatch, inputs, attrs);
  return {
    dispatched: dispatched as Tensor2D,
    expertOffsets: expertOffsets as Tensor1D,
    sourceRows: sourceRows as Tensor1D,
    droppedCount: droppedCount as Scalar,
  };
}

/**
 * Groups the rows of `x` [N, D] by expert for sparse MoE: each of the N·k
 * (token, slot) pairs of `expertIndices` [N, k] becomes one row of
 * `dispatched`, experts' rows contiguous in expert order (`expertOffsets`),
 * each expert's rows in (token, slot) order (a stable counting sort). With
 * `capacity`, an expert keeps its first `capacity` pairs and the rest are
 * dropped (`droppedCount`); their output contribution is 0. Differentiable
 * w.r.t. x.
 *
 * ```js
 * const {dispatched, expertOffsets, sourceRows} =
 *     expertDispatch(x, expertIndices, numExperts, {capacity: 64});
 * ```
 */
export const expertDispatch = op({expertDispatch_});
