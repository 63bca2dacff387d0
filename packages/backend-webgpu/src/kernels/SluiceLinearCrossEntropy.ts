import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';

import {GpuScratch, RowSink} from '../gpu_scratch';
import type {ProgramUniform} from '../internal';
import {ranges} from '@sluice/core/internal';
import {classifierRange, forwardSplits, forwardTokenChunk, lceKernelConfig} from '../lce_plan';
import {LceMergeOutput, LceMergeProgram} from '../lce_merge_webgpu';
import {LcePartialProgram, PARTIAL_FIELDS} from '../linear_cross_entropy_webgpu';
import {f32, i32} from '../uniforms';
import {tileCols, TILE} from '../shader_util';

function forward(scratch: GpuScratch, inputs: SluiceLinearCrossEntropyInputs,
                 attrs: SluiceLinearCrossEntropyAttrs): TensorInfo[] {
  const {embeddings: e, classifier: c, labels, bias} = inputs;
  const [n, d] = e.shape;
  const v = c.shape[0];
  if (n === 0) {
    return [scratch.outputFromValues([0], 'float32'), scratch.outputFromValues([0], 'float32'),
            scratch.outputFromValues([0], 'int32')];
  }
  const backend = scratch.backend;
  const budget = scratch.budget;
  const sinks: Array<[LceMergeOutput, RowSink]> = [
    ['losses', new RowSink(scratch, [n], 'float32')],
    ['lse', new RowSink(scratch, [n], 'float32')],
    ['argmax', new RowSink(scratch, [n], 'int32')],
  ];
  const rangeRows = classifierRange(v, d, budget);
  const chunk = forwardTokenChunk(n, d, v, rangeRows, budget);
  const splits = forwardSplits(n, v, rangeRows, chunk, attrs.vocabChunk, budget);
  const needSumZ = attrs.labelSmoothing > 0 || attrs.maxSup > 0;
  const softcap = attrs.softcap > 0;

  for (const [t0, nt] of ranges(n, chunk)) {
    const partial = scratch.allocate([splits.total, nt, PARTIAL_FIELDS], 'float32');
    const eView = scratch.rows(e, t0, nt);
    const labelView = scratch.rows(labels, t0, nt);
    for (const [v0, count, splitOffset] of splits.ranges) {
      const cView = scratch.rows(c, v0, count);
      const bView = bias ? scratch.rows(bias, v0, count) : undefined;
      const numSplits = Math.ceil(count / splits.splitSize);
      const program = new LcePartialProgram(partial.shape, nt, numSplits, bView != null, softcap, needSumZ);
      const uniforms: ProgramUniform[] = [
        i32(nt), i32(eView.offset), i32(bView?.offset ?? 0), i32(labelView.offset), i32(count), i32(cView.offset), i32(d), i32(v0),
        i32(splits.splitSize), i32(Math.ceil(splits.splitSize / tileCols(TILE))), i32(splitOffset),
        f32(attrs.softcap),
      ];
      const programInputs = [eView.info, cView.info, labelView.info, ...(bView ? [bView.info] : [])];
      backend.runWebGPUProgram(program, programInputs, 'float32', uniforms, partial);
      scratch.release(cView.info);
      if (bView) {
        scratch.release(bView.info);
      }
    }
    for (const [output, sink] of sinks) {
      const target = sink.target(t0, nt);
      const program = new LceMergeProgram(target.info.shape, nt, output);
      const uniforms: ProgramUniform[] = [
        i32(nt), i32(splits.total), i32(labelView.offset), i32(target.offset), f32(v), f32(attrs.labelSmoothing),
        f32(attrs.zLoss), f32(attrs.maxSup), i32(attrs.ignoreIndex),
      ];
      const programInputs = output === 'losses' ? [partial, labelView.info] : [partial];
      backend.runWebGPUProgram(program, programInputs, sink.info.dtype, uniforms, target.info);
      sink.commit(target, t0, nt);
    }
    for (const t of [partial, eView.info, labelView.info]) {
      scratch.release(t);
    }
  }
  return sinks.map(([, sink]) => sink.info);
}

export const sluiceLinearCrossEntropyConfig: KernelConfig = lceKernelConfig<SluiceLinearCrossEntropyInputs, SluiceLinearCrossEntropyAttrs>(SluiceLinearCrossEntropy, forward);
