import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '@sluice/core';

import {CapacityStep, ExpertCapacityProgram} from '../expert_capacity_webgpu';
import {DISPATCH_BLOCK, DispatchGatherProgram, ExpertDispatchProgram, DispatchStep} from '../expert_dispatch_webgpu';
import {fillInt32Uniforms, FillInt32Program} from '../fill_int32_webgpu';
import {runGuarded} from '../gpu_scratch';
import {ProgramUniform, WebGPUBackend} from '../internal';
import {deviceBudget} from '../device_budget';
import {i32} from '../uniforms';

/**
 * Outputs [dispatched [M, D], expertOffsets [E+1] int32, sourceRows [M] int32, droppedCount [] int32,
 * expertCounts [E] int32] (layouts in core's kernel_names.ts). Dropless: the counting sort's ragged rows
 * (M = N·k). With a capacity C: the static layout (M = E·C) built on the GPU from the same sort, so
 * nothing is read back.
 */
export function sluiceExpertDispatchWebGPU(args: {
  inputs: SluiceExpertDispatchInputs,
  backend: WebGPUBackend,
  attrs: SluiceExpertDispatchAttrs,
}): TensorInfo[] {
  const {inputs: {x, expertIndices, gates}, backend, attrs: {numExperts, capacity, dropPolicy}} = args;
  const [n, d] = x.shape;
  const k = expertIndices.shape[1];
  const pairs = n * k;
  const shape = `N=${n}, D=${d}, E=${numExperts}, k=${k}` + (capacity >= 0 ? `, capacity=${capacity}` : '');
  return runGuarded(backend, SluiceExpertDispatch, shape, () => deviceBudget(backend), scratch => {
    if (pairs === 0) {
      // No program on empty tensors (an empty binding drops the whole command batch). The op runs
      // N·k = 0 as dropless (no capacity can drop anything).
      return [scratch.outputFromValues([0, d], 'float32'), scratch.outputFromValues([numExperts + 1], 'int32'),
              scratch.outputFromValues([0], 'int32'), scratch.outputFromValues([], 'int32'),
              scratch.outputFromValues([numExperts], 'int32')];
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
    const ragged = capacity < 0;
    const counts = scratch.allocate([buckets * blocks], 'int32');
    const prefix = scratch.allocate([buckets * (blocks + 1)], 'int32');
    scratch.assertBindable('the prefix counts', prefix.shape);
    const offsets = scratch.allocate([numExperts + 1], 'int32', ragged);
    const sourceRows = scratch.allocate([pairs], 'int32', ragged);
    run('count', [expertIndices], counts);
    run('scan', [counts], prefix);
    scratch.release(counts);
    run('offsets', [prefix], offsets);
    run('scatter', [expertIndices, offsets, prefix], sourceRows);
    scratch.release(prefix);
    const capacityUniforms = [i32(pairs), i32(numExperts), i32(Math.max(capacity, 0)), i32(k), i32(d), i32(n)];
    const runCapacity = (step: CapacityStep, inputs: TensorInfo[], out: TensorInfo, threads: number) => {
      // A scalar output is written as [1] by the program.
      const programShape = out.shape.length === 0 ? [1] : out.shape;
      backend.runWebGPUProgram(new ExpertCapacityProgram(step, programShape, threads, dropPolicy), inputs, 'int32',
                               capacityUniforms, out);
    };
    if (ragged) {
      const dispatched = scratch.allocate([pairs, d], 'float32', true);
      if (d > 0) {
        scratch.assertBindable('dispatched', dispatched.shape);
        backend.runWebGPUProgram(new DispatchGatherProgram(pairs, d), [x, sourceRows, offsets], 'float32', uniforms,
                                 dispatched);
      }
      const dropped = scratch.outputFromValues([], 'int32');
      const expertCounts = scratch.allocate([numExperts], 'int32', true);
      runCapacity('counts', [offsets], expertCounts, numExperts);
      return [dispatched, offsets, sourceRows, dropped, expertCounts];
    }
    // Static layout: E·C slots, offsets e·C known on the host.
    const slots = numExperts * capacity;
    const staticOffsets = scratch.outputFromValues([numExperts + 1], 'int32',
                                                   Int32Array.from({length: numExperts + 1}, (_, e) => e * capacity));
    const expertCounts = scratch.allocate([numExperts], 'int32', true);
    runCapacity('counts', [offsets], expertCounts, numExperts);
    const dropped = scratch.allocate([], 'int32', true);
    runCapacity('dropped', [offsets], dropped, 1);
    if (slots === 0) {
      return [scratch.outputFromValues([0, d], 'float32'), staticOffsets, scratch.outputFromValues([0], 'int32'),
              dropped, expertCounts];
    }
    const slotRows = scratch.allocate([slots], 'int32', true);
    backend.runWebGPUProgram(new FillInt32Program(slots), [], 'int32', fillInt32Uniforms(slots, -1), slotRows);
    const placeInputs = [expertIndices, sourceRows, offsets, ...(dropPolicy === 'score' ? [gates!] : [])];
    runCapacity('place', placeInputs, slotRows, pairs);
    const dispatched = scratch.allocate([slots, d], 'float32', true);
    if (d > 0) {
      scratch.assertBindable('dispatched', dispatched.shape);
      backend.runWebGPUProgram(new ExpertCapacityProgram('gather', dispatched.shape, slots * d), [x, slotRows, offsets],
                               'float32', capacityUniforms, dispatched);
    }
    return [dispatched, staticOffsets, slotRows, dropped, expertCounts];
  });
}

export const sluiceExpertDispatchConfig: KernelConfig = {
  kernelName: SluiceExpertDispatch,
  backendName: 'webgpu',
  kernelFunc: sluiceExpertDispatchWebGPU as unknown as KernelFunc,
};
