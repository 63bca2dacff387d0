import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceExpertCombine, SluiceExpertCombineInputs} from '@sluice/core';

import {CombineInverseProgram, ExpertCombineProgram} from '../expert_combine_webgpu';
import {fillInt32Uniforms, FillInt32Program} from '../fill_int32_webgpu';
import {runGuarded} from '../gpu_scratch';
import {WebGPUBackend} from '../internal';
import {deviceBudget} from '../device_budget';
import {i32} from '../uniforms';

/** out [N, H]: each row of y added into its token, scaled by its pair's gate. */
export function sluiceExpertCombineWebGPU(args: {inputs: SluiceExpertCombineInputs, backend: WebGPUBackend}):
    TensorInfo {
  const {inputs: {y, sourceRows, gates}, backend} = args;
  const [m, h] = y.shape;
  const [n, k] = gates.shape;
  const pairs = n * k;
  const shape = `y [${m}, ${h}], gates [${n}, ${k}]`;
  return runGuarded(backend, SluiceExpertCombine, shape, () => deviceBudget(backend), scratch => {
    if (m === 0 || n === 0 || h === 0) {
      // Nothing to add (or nothing to add into): zeros, and no program on empty tensors.
      return [scratch.outputFromValues([n, h], 'float32')];
    }
    for (const [name, t] of [['y', y], ['gates', gates]] as Array<[string, TensorInfo]>) {
      scratch.assertBindable(name, t.shape);
    }
    const inverse = scratch.allocate([pairs], 'int32');
    backend.runWebGPUProgram(new FillInt32Program(pairs), [], 'int32', fillInt32Uniforms(pairs, -1), inverse);
    backend.runWebGPUProgram(new CombineInverseProgram(pairs, m), [sourceRows], 'int32', [i32(pairs), i32(m)],
                             inverse);
    const out = scratch.allocate([n, h], 'float32', true);
    scratch.assertBindable('the output', out.shape);
    backend.runWebGPUProgram(new ExpertCombineProgram(n, h), [y, inverse, gates], 'float32', [i32(k), i32(h)], out);
    return [out];
  })[0];
}

export const sluiceExpertCombineConfig: KernelConfig = {
  kernelName: SluiceExpertCombine,
  backendName: 'webgpu',
  kernelFunc: sluiceExpertCombineWebGPU as unknown as KernelFunc,
};
