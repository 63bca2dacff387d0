/**
 * SluiceExpertDispatch for tfjs-node's 'tensorflow' backend. The stable
 * counting sort of the N·k int32 expert ids runs on the host (one synchronous
 * read of a small int tensor, O(N·k); the op's validation has usually read
 * them already); the heavy part, moving M·D floats into expert order, is one
 * TensorFlow GatherV2 of x's rows by each row's token. In the static
 * capacity layout the kept rows are gathered and then placed into their slots
 * with one UnsortedSegmentSum (each slot gets at most one row, so the sums are
 * exact copies; empty slots come out zero).
 */
import {KernelConfig, KernelFunc, scalar, Tensor, tensor1d, tidy} from '@tensorflow/tfjs-core';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '@sluice/core';

import {dispatchPlan} from '@sluice/core/internal';
import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

/**
 * Outputs [dispatched [M, D], expertOffsets [E+1] int32, sourceRows [M] int32, droppedCount [] int32,
 * expertCounts [E] int32] (layouts in core's kernel_names.ts).
 */
export const sluiceExpertDispatch: KernelFunc = ({inputs, backend, attrs}) => {
  const {x, expertIndices, gates} = inputs as unknown as SluiceExpertDispatchInputs;
  const {numExperts, capacity, dropPolicy} = attrs as unknown as SluiceExpertDispatchAttrs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const d = x.shape[1];
  const [n, k] = expertIndices.shape;
  const gateValues = gates == null ? undefined : (backend as NodeJSKernelBackend).readSync(gates.dataId) as Float32Array;
  const plan = dispatchPlan(n * k === 0 ? new Int32Array(0) : ops.readInts(expertIndices), k, numExperts, capacity,
                            dropPolicy, gateValues);
  const m = plan.sourceRows.length;
  const slots: number[] = [];
  for (let row = 0; row < m; ++row) if (plan.tokens[row] >= 0) slots.push(row);
  let dispatched: Tensor;
  if (m === 0 || slots.length === 0) {
    dispatched = ops.fill([m, d], 0);
  } else if (slots.length === m) {
    dispatched = tidy(() => ops.gatherRows(x, tensor1d(plan.tokens, 'int32')));
  } else {
    dispatched = tidy(() => ops.unsortedSegmentSum(
        ops.gatherRows(x, tensor1d(slots.map(row => plan.tokens[row]), 'int32')), tensor1d(slots, 'int32'), m));
  }
  return [dispatched, tensor1d(plan.offsets, 'int32'), tensor1d(plan.sourceRows, 'int32'),
          scalar(plan.dropped, 'int32'), tensor1d(plan.counts, 'int32')];
};

export const sluiceExpertDispatchConfig: KernelConfig = {
  kernelName: SluiceExpertDispatch,
  backendName: 'tensorflow',
  kernelFunc: sluiceExpertDispatch,
};
