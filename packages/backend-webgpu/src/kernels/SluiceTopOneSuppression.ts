import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '@sluice/core';

import {GpuScratch, RowSink, runGuarded} from '../gpu_scratch';
import {ProgramUniform, WebGPUBackend} from '../internal';
import {deviceBudget} from '../device_budget';
import {ranges} from '@sluice/core/internal';
import {TopOneOutput, TopOneSuppressionProgram} from '../top_one_suppression_webgpu';

import {f32, i32} from '../uniforms';

/**
 * Rows per dispatch: all N when the [N, V] logits fit one storage binding
 * and the row workgroups one 2-D grid; otherwise chunks of rows, each bound
 * through a copy of its rows (GpuScratch.rows).
 */
export function topOneRowChunk(n: number, v: number, bindingBytes: number, maxWorkgroups: number): number {
  const byBinding = n * v * 4 <= bindingBytes ? n : Math.floor(bindingBytes / (4 * v));
  if (byBinding < 1) {
    throw new Error(`one row of ${v} logits (${4 * v} bytes) exceeds the storage binding limit (${bindingBytes} bytes)`);
  }
  return Math.min(n, byBinding, maxWorkgroups * maxWorkgroups);
}

function topOne(scratch: GpuScratch, logits: TensorInfo, alpha: number): TensorInfo[] {
  const [n, v] = logits.shape;
  if (n === 0) {
    // No dispatch on empty tensors: webgpu rejects zero-size bindings.
    return [scratch.outputFromValues([0], 'float32'), scratch.outputFromValues([0], 'int32')];
  }
  const {bindingBytes, maxWorkgroups} = scratch.budget;
  const sinks: Array<[TopOneOutput, RowSink]> = [
    ['penalty', new RowSink(scratch, [n], 'float32')],
    ['argmax', new RowSink(scratch, [n], 'int32')],
  ];
  for (const [r0, rows] of ranges(n, topOneRowChunk(n, v, bindingBytes, maxWorkgroups))) {
    const view = scratch.rows(logits, r0, rows);
    // Past the per-dimension limit the rows fold into the fewest grid rows, filled evenly: fewer than gridRows
    // idle workgroups (65,536 rows: 2 × 32,768, not 2 × 65,535; an idle one still runs every barrier).
    const gridRows = Math.ceil(rows / maxWorkgroups);
    const rowsPerDim = Math.ceil(rows / gridRows);
    for (const [output, sink] of sinks) {
      const target = sink.target(r0, rows);
      const uniforms: ProgramUniform[] = [i32(rows), i32(v), f32(alpha), i32(view.offset), i32(target.offset),
                                          i32(rowsPerDim)];
      scratch.backend.runWebGPUProgram(new TopOneSuppressionProgram(target.info.shape[0], rows, rowsPerDim, output),
                                       [view.info], target.info.dtype, uniforms, target.info);
      sink.commit(target, r0, rows);
    }
    scratch.release(view.info);
  }
  return sinks.map(([, sink]) => sink.info);
}

/** Outputs [penalty [N] float32, argmax [N] int32]. */
export function sluiceTopOneSuppressionWebGPU(
    args: {inputs: SluiceTopOneSuppressionInputs, backend: WebGPUBackend, attrs: SluiceTopOneSuppressionAttrs}):
    TensorInfo[] {
  const {inputs: {logits}, backend, attrs: {alpha}} = args;
  const [n, v] = logits.shape;
  return runGuarded(backend, SluiceTopOneSuppression, `N=${n}, V=${v}`, () => deviceBudget(backend),
                    scratch => topOne(scratch, logits, alpha));
}

export const sluiceTopOneSuppressionConfig: KernelConfig = {
  kernelName: SluiceTopOneSuppression,
  backendName: 'webgpu',
  kernelFunc: sluiceTopOneSuppressionWebGPU as unknown as KernelFunc,
};
