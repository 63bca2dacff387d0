/**
 * SluiceExpertDispatch for tfjs-node's 'tensorflow' backend. The stable
 * counting sort of the N·k int32 expert ids runs on the host (one synchronous
 * read of a small int tensor, O(N·k); the op's validation has usually read
 * them already); the heavy part, moving M·D floats into expert order, is one
 * TensorFlow GatherV2 of x's rows by each row's token.
 */
import {KernelConfig, KernelFunc, scalar, Tensor, tensor1d} from '@tensorflow/tfjs-core';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '@sluice/core';

import {dispatchPlan} from '@sluice/core/internal';
import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

/** Outputs [dispatched [M, D], expertOffsets [E+1] int32, sourceRows [M] int32, droppedCount [] int32]. */
export const sluiceExpertDispatch: KernelFunc = ({inputs, backend, attrs}) => {
  const {x, expertIndices} = inputs as unknown as SluiceExpertDispatchInputs;
  const {numExperts, capacity} = attrs as unknown as SluiceExpertDispatchAttrs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const d = x.shape[1];
  const [n, k] = expertIndices.shape;
  const plan = dispatchPlan(n * k === 0 ? new Int32Array(0) : ops.readInts(expertIndices), k, numExperts, capacity);
  const m = plan.sourceRows.length;
  let dispatched: Tensor;
  if (m === 0) {
    dispatched = ops.fill([0, d], 0);
  } else {
    const tokens = tensor1d(plan.tokens, 'int32');
    try {
      dispatched = ops.gatherRows(x, tokens);
    } finally {
      tokens.dispose();
    }
  }
  return [dispatched, tensor1d(plan.offsets, 'int32'), tensor1d(plan.sourceRows, 'int32'),
          scalar(plan.dropped, 'int32')];
};

export const sluiceExpertDispatchConfig: KernelConfig = {
  kernelName: SluiceExpertDispatch,
  backendName: 'tensorflow',
  kernelFunc: sluiceExpertDispatch,
};
