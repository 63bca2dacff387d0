import {TensorInfo, util} from '@tensorflow/tfjs-core';

import {GpuScratch} from '../gpu_scratch';
import {GroupedMatMulProgram, groupedRowTiles} from '../grouped_mat_mul_webgpu';
import {tileCols, TILE} from '../shader_util';
import {i32} from './lce_kernel_util';

/** The sparse-MoE kernels bind whole tensors: one that exceeds a storage binding is a clear error. */
export function assertBindable(scratch: GpuScratch, name: string, shape: number[]) {
  if (!scratch.fitsBinding(shape)) {
    throw new Error(`${name} [${shape.join(', ')}] (${util.sizeFromShape(shape) * 4} bytes) exceeds the storage ` +
                    `binding limit (${scratch.budget.bindingBytes} bytes)`);
  }
}

/**
 * y [M, cols] = x [M, depth] · W[e] per expert segment, W [E, depth, cols]
 * (or [E, cols, depth] when transposed), into an output of the call.
 * Empty shapes run no program.
 */
export function groupedMatMul(scratch: GpuScratch, x: TensorInfo, weights: TensorInfo, offsets: TensorInfo,
                              transposeWeights: boolean): TensorInfo {
  const [m, depth] = x.shape;
  const [e, a, b] = weights.shape;
  const cols = transposeWeights ? a : b;
  if (m === 0 || cols === 0 || depth === 0) {
    return scratch.outputFromValues([m, cols], 'float32');
  }
  assertBindable(scratch, 'x', x.shape);
  assertBindable(scratch, 'weights', weights.shape);
  const y = scratch.allocate([m, cols], 'float32', true);
  assertBindable(scratch, 'the output', y.shape);
  const program = new GroupedMatMulProgram(m, cols, depth, e, transposeWeights, scratch.budget.maxWorkgroups);
  scratch.backend.runWebGPUProgram(program, [x, weights, offsets], 'float32',
                                   [i32(e), i32(depth), i32(cols), i32(Math.ceil(depth / TILE.tk)),
                                    i32(groupedRowTiles(m, e)), i32(Math.ceil(cols / tileCols(TILE)))],
                                   y);
  return y;
}
