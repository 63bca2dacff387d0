/**
 * Outputs [losses [N], lse [N], argmax [N] int32, entropy ([N] or [0])]; see
 * `SluiceLinearCrossEntropy` in @sluice/core. Per token chunk and classifier
 * range: `LcePartialProgram` folds each (token tile, vocabulary split) into
 * partial records, `LceMergeProgram` merges them per output; V_u and S come
 * from `classStats` when smoothing or maxSup need them. The float32
 * accumulation order of every reduction is stated in those programs' files.
 */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';
import {ranges} from '@sluice/core/internal';

import {GpuScratch, RowSink} from '../gpu_scratch';
import type {ProgramUniform} from '../internal';
import {classStats} from '../lce_class_stats_webgpu';
import {LceMergeOutput, LceMergeProgram} from '../lce_merge_webgpu';
import {classifierRange, classifierView, forwardSplits, forwardTokenChunk, lceKernelConfig, vocabOf} from '../lce_plan';
import {LceForwardVariant, LcePartialProgram, PARTIAL_FIELDS} from '../linear_cross_entropy_webgpu';
import {f32, i32} from '../uniforms';

function forward(scratch: GpuScratch, inputs: SluiceLinearCrossEntropyInputs,
                 attrs: SluiceLinearCrossEntropyAttrs): TensorInfo[] {
  const {embeddings: e, classifier: c, labels} = inputs;
  const layout = attrs.classifierLayout;
  const [n, d] = e.shape;
  const v = vocabOf(c, layout);
  // The op always passes a bias (zeros when the caller gave none): read only when it is real, so
  // without one the logits skip the bias loads and V_u needs no scan.
  const bias = attrs.hasBias ? inputs.bias : undefined;
  const weights = attrs.hasClassWeights ? inputs.classWeights : undefined;
  const ls = attrs.labelSmoothing;
  const entropyOut = (rows: number) => attrs.computeEntropy ? [rows] : [0];
  if (n === 0) {
    return [scratch.outputFromValues([0], 'float32'), scratch.outputFromValues([0], 'float32'),
            scratch.outputFromValues([0], 'int32'), scratch.outputFromValues(entropyOut(0), 'float32')];
  }
  const backend = scratch.backend;
  const budget = scratch.budget;
  if (weights != null) {
    scratch.assertBindable('classWeights', weights.shape);  // w_y is gathered by label
  }
  const sinks: Array<[LceMergeOutput, RowSink]> = [
    ['losses', new RowSink(scratch, [n], 'float32')],
    ['lse', new RowSink(scratch, [n], 'float32')],
    ['argmax', new RowSink(scratch, [n], 'int32')],
  ];
  if (attrs.computeEntropy) {
    sinks.push(['entropy', new RowSink(scratch, [n], 'float32')]);
  }
  const variant: LceForwardVariant = {
    hasBias: bias != null, softcap: attrs.softcap > 0, layout, sumZ: ls > 0 || attrs.maxSup > 0,
    weightedSumZ: ls > 0 && weights != null, entropy: attrs.computeEntropy,
  };
  // V_u and S: only the smoothing and maxSup terms use them.
  const stats = classStats(scratch, v, variant.sumZ ? bias : undefined, variant.weightedSumZ ? weights : undefined);
  const rangeRows = classifierRange(v, d, budget);
  const chunk = forwardTokenChunk(n, d, v, rangeRows, budget);
  const splits = forwardSplits(n, v, rangeRows, chunk, attrs.vocabChunk, budget);

  for (const [t0, nt] of ranges(n, chunk)) {
    const partial = scratch.allocate([splits.total, nt, PARTIAL_FIELDS], 'float32');
    const eView = scratch.rows(e, t0, nt);
    const labelView = scratch.rows(labels, t0, nt);
    for (const [v0, count, splitOffset] of splits.ranges) {
      const cView = classifierView(scratch, c, layout, v0, count);
      const classViews = [bias, variant.weightedSumZ ? weights : undefined]
                             .filter((t): t is TensorInfo => t != null).map(t => scratch.rows(t, v0, count));
      const numSplits = Math.ceil(count / splits.splitSize);
      const program = new LcePartialProgram(partial.shape, nt, numSplits, variant);
      const uniforms: ProgramUniform[] = [
        i32(nt), i32(eView.offset), i32(classViews[0]?.offset ?? 0), i32(labelView.offset), i32(count),
        i32(cView.offset), i32(cView.stride), i32(d), i32(v0), i32(splits.splitSize), i32(splitOffset),
        f32(attrs.softcap),
      ];
      const programInputs = [eView.info, cView.info, labelView.info, ...classViews.map(view => view.info)];
      backend.runWebGPUProgram(program, programInputs, 'float32', uniforms, partial);
      [cView, ...classViews].forEach(view => scratch.release(view.info));
    }
    for (const [output, sink] of sinks) {
      const target = sink.target(t0, nt);
      const program = new LceMergeProgram(target.info.shape, nt, output, weights != null);
      const uniforms: ProgramUniform[] = [
        i32(nt), i32(splits.total), i32(labelView.offset), i32(target.offset), i32(v), f32(ls), f32(attrs.zLoss),
        f32(attrs.maxSup), i32(attrs.ignoreIndex),
      ];
      const programInputs = output === 'losses' ?
          [partial, labelView.info, stats, ...(weights ? [weights] : [])] : [partial];
      backend.runWebGPUProgram(program, programInputs, sink.info.dtype, uniforms, target.info);
      sink.commit(target, t0, nt);
    }
    for (const t of [partial, eView.info, labelView.info]) {
      scratch.release(t);
    }
  }
  return [...sinks.map(([, sink]) => sink.info),
          ...(attrs.computeEntropy ? [] : [scratch.outputFromValues([0], 'float32')])];
}

export const sluiceLinearCrossEntropyConfig: KernelConfig =
    lceKernelConfig<SluiceLinearCrossEntropyInputs, SluiceLinearCrossEntropyAttrs>(SluiceLinearCrossEntropy, forward);
