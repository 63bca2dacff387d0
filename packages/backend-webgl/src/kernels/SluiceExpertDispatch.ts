/**
 * SluiceExpertDispatch for 'webgl'. The stable counting sort of the N·k int32
 * expert ids runs on the host: the op validates the ids with a synchronous
 * read on webgl before the kernel runs, and webgl caches what it read, so
 * this kernel's own readSync costs nothing more (called directly with
 * GPU-resident ids, it is one stall of N·k ints). dropPolicy 'score' also
 * reads the gates, which the op does not: one more stall of N·k floats when
 * they live on the GPU (documented in the README). A GPU sort would instead
 * need a bitonic network of log²(N·k) passes plus a readback of M anyway,
 * since the number of kept rows sets the output shape. The rows themselves
 * move on the GPU: one `GatherRowsProgram` of x by each row's token (-1, an
 * empty slot of the static capacity layout, gives a zero row).
 */
import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '@sluice/core';

import {dispatchPlan} from '@sluice/core/internal';
import {GatherRowsProgram} from '../gather_rows_gpu';
import type {MathBackendWebGL} from '../internal';

/**
 * Outputs [dispatched [M, D], expertOffsets [E+1] int32, sourceRows [M] int32, droppedCount [] int32,
 * expertCounts [E] int32] (layouts in core's kernel_names.ts).
 */
export function sluiceExpertDispatchWebGL(
    args: {inputs: SluiceExpertDispatchInputs, backend: MathBackendWebGL, attrs: SluiceExpertDispatchAttrs}):
    TensorInfo[] {
  const {inputs: {x, expertIndices, gates}, backend, attrs: {numExperts, capacity, dropPolicy}} = args;
  const d = x.shape[1];
  const [n, k] = expertIndices.shape;
  const ids = n * k === 0 ? new Int32Array(0) : backend.readSync(expertIndices.dataId) as Int32Array;
  const gateValues = gates == null ? undefined : backend.readSync(gates.dataId) as Float32Array;
  const plan = dispatchPlan(ids, k, numExperts, capacity, dropPolicy, gateValues);
  const m = plan.sourceRows.length;
  let dispatched: TensorInfo;
  if (m === 0 || d === 0) {
    dispatched = backend.makeTensorInfo([m, d], 'float32', new Float32Array(0));
  } else {
    const tokens = backend.makeTensorInfo([m], 'int32', plan.tokens);
    try {
      dispatched = backend.runWebGLProgram(new GatherRowsProgram(m, d), [x, tokens], 'float32');
    } finally {
      backend.disposeIntermediateTensorInfo(tokens);
    }
  }
  return [
    dispatched,
    backend.makeTensorInfo([numExperts + 1], 'int32', plan.offsets),
    backend.makeTensorInfo([m], 'int32', plan.sourceRows),
    backend.makeTensorInfo([], 'int32', new Int32Array([plan.dropped])),
    backend.makeTensorInfo([numExperts], 'int32', plan.counts),
  ];
}

export const sluiceExpertDispatchConfig: KernelConfig = {
  kernelName: SluiceExpertDispatch,
  backendName: 'webgl',
  kernelFunc: sluiceExpertDispatchWebGL as unknown as KernelFunc,
};
