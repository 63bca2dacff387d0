import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '@sluice/core';

import {expertDispatchImpl} from './SluiceExpertDispatch_impl';

/**
 * Outputs [dispatched [M, D], expertOffsets [E+1] int32, sourceRows [M] int32, droppedCount [] int32,
 * expertCounts [E] int32] (layouts in core's kernel_names.ts).
 */
export function sluiceExpertDispatch(args: {
  inputs: SluiceExpertDispatchInputs,
  backend: MathBackendCPU,
  attrs: SluiceExpertDispatchAttrs,
}): TensorInfo[] {
  const {inputs: {x, expertIndices, gates}, backend, attrs: {numExperts, capacity, dropPolicy}} = args;
  const [n, d] = x.shape;
  const k = expertIndices.shape[1];
  const read = (t: TensorInfo) => backend.data.get(t.dataId).values;
  const r = expertDispatchImpl(read(x) as Float32Array, read(expertIndices) as Int32Array, n, k, d, numExperts,
                               capacity, dropPolicy, gates == null ? undefined : read(gates) as Float32Array);
  const m = r.sourceRows.length;
  return [
    backend.makeTensorInfo([m, d], 'float32', r.dispatched),
    backend.makeTensorInfo([numExperts + 1], 'int32', r.offsets),
    backend.makeTensorInfo([m], 'int32', r.sourceRows),
    backend.makeTensorInfo([], 'int32', new Int32Array([r.dropped])),
    backend.makeTensorInfo([numExperts], 'int32', r.counts),
  ];
}

export const sluiceExpertDispatchConfig: KernelConfig = {
  kernelName: SluiceExpertDispatch,
  backendName: 'cpu',
  kernelFunc: sluiceExpertDispatch as unknown as KernelFunc,
};
