import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '@sluice/core';
import {capacityNeedsSyncReadError} from '@sluice/core/internal';

import {DISPATCH_BLOCK, DispatchGatherProgram, ExpertDispatchProgram, DispatchStep} from '../expert_dispatch_webgpu';
import {runGuarded} from '../gpu_scratch';
import {ProgramUniform, WebGPUBackend} from '../internal';
import {deviceBudget} from '../device_budget';
import {i32} from '../uniforms';

/**
 * Outputs [dispatched [M, D], expertOffsets [E+1] int32, sourceRows [M] int32, droppedCount [] int32],
 * dropless only (M = N·k): with a capacity, M depends on the data and webgpu cannot read it synchronously.
 */
export function sluiceExpertDispatchWebGPU(args: {
  inputs: SluiceExpertDispatchInputs,
  backend: WebGPUBackend,
  attrs: SluiceExpertDispatchAttrs,
}): TensorInfo[] {
  const {inputs: {x, expertIndices}, backend, attrs: {numExperts, capacity}} = args;
  const [n, d] = x.shape;
  const k = expertIndices.shape[1];
  if (capacity >= 0) {
    throw capacityNeedsSyncReadError(capacity);
  }
  const pairs = n * k;
  const shape = `N=${n}, D=${d}, E=${numExperts}, k=${k}`;
  return runGuarded(backend, SluiceExpertDispatch, shape, () => deviceBudget(backend), scratch => {
    const dropped = scratch.outputFromValues([], 'int32');
    if (pairs === 0) {
      // No program on empty tensors (an empty binding drops the whole command batch).
      return [scratch.outputFromValues([0, d], 'float32'), scratch.outputFromValues([numExperts + 1], 'int32'),
              scratch.outputFromValues([0], 'int32'), dropped];
    }
    const budget = scratch.budget;
    const blocks = Math.ceil(pairs / DISPATCH_BLOCK);
    const buckets = numExperts + 1;
    const uniforms: ProgramUniform[] = [i32(pairs), i32(numExperts), i32(blocks), i32(k), i32(d)];
    const run = (step: DispatchStep, inputs: TensorInfo[], out: TensorInfo) => {
      backend.runWebGPUProgram(new ExpertDispatchProgram(step, out.shape, blocks, numExperts, budget.maxWorkgroups),
                               inputs, 'int32', uniforms, out);
    };
    for (const [name, t] of [['x', x], ['expertIndices', expertIndices]] as Array<[string, TensorInfo]>) {
      scratch.assertBindable(name, t.shape);
    }
    const counts = scratch.allocate([buckets * blocks], 'int32');
    const prefix = scratch.allocate([buckets * (blocks + 1)], 'int32');
    scratch.assertBindable('the prefix counts', prefix.shape);
    const offsets = scratch.allocate([numExperts + 1], 'int32', true);
    const sourceRows = scratch.allocate([pairs], 'int32', true);
    run('count', [expertIndices], counts);
    run('scan', [counts], prefix);
    scratch.release(counts);
    run('offsets', [prefix], offsets);
    run('scatter', [expertIndices, offsets, prefix], sourceRows);
    scratch.release(prefix);
    const dispatched = scratch.allocate([pairs, d], 'float32', true);
    if (d > 0) {
      scratch.assertBindable('dispatched', dispatched.shape);
      backend.runWebGPUProgram(new DispatchGatherProgram(pairs, d), [x, sourceRows, offsets], 'float32', uniforms,
                               dispatched);
    }
    return [dispatched, offsets, sourceRows, dropped];
  });
}

export const sluiceExpertDispatchConfig: KernelConfig = {
  kernelName: SluiceExpertDispatch,
  backendName: 'webgpu',
  kernelFunc: sluiceExpertDispatchWebGPU as unknown as KernelFunc,
};
