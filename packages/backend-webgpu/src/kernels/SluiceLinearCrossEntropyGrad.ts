/**
 * Outputs [dEmbeddings [N, D], dClassifier in the classifier's layout, dBias
 * [V] (only when attrs.hasBias: the zeros the op passes otherwise are not
 * read)]; see `SluiceLinearCrossEntropyGrad` in @sluice/core. Two-pass
 * default: the per-token coefficients once per token chunk
 * (`LceTokenCoefProgram`), then per vocabulary block and token chunk,
 * `LceGradLogitsProgram` writes the dz block, then `LceGradMatMulProgram`
 * adds dz·C into dE and dzᵀ·E into dC (Eᵀ·dz for a [D, V] classifier) and
 * `LceBiasGradProgram` the column sums into dBias. The float32 accumulation order of each is stated in its file.
 */
import {env, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs,
        SluiceLinearCrossEntropyGradInputs} from '@sluice/core';
import {ranges} from '@sluice/core/internal';

import {SLUICE_WEBGPU_LCE_BACKWARD} from '../flags_webgpu';
import {ColumnSink, ColumnView, GpuScratch, OutputSink, RowSink, RowView} from '../gpu_scratch';
import type {ProgramUniform} from '../internal';
import {LceBiasGradProgram} from '../lce_bias_grad_webgpu';
import {classStats} from '../lce_class_stats_webgpu';
import {lceGradAtomic} from '../lce_grad_atomic';
import {gradBlockLength, LceGradLogitsProgram} from '../lce_grad_logits_webgpu';
import {LceGradMatMulKind, LceGradMatMulProgram} from '../lce_grad_matmul_webgpu';
import {classifierView, gradBlock, lceKernelConfig, tokenChunk, vocabOf} from '../lce_plan';
import {LceTokenCoefProgram, TOKEN_FIELDS} from '../lce_token_coef_webgpu';
import {TILE, tileCols, tileRows} from '../shader_util';
import {f32, i32} from '../uniforms';

/** What every part of one backward call shares. */
export interface GradCall {
  inputs: SluiceLinearCrossEntropyGradInputs;
  attrs: SluiceLinearCrossEntropyGradAttrs;
  v: number;
  /** The bias when attrs.hasBias (masks, logits, dBias); undefined: none is read or returned. */
  bias?: TensorInfo;
  /** classWeights when given (w_y, and w_c in the smoothing term). */
  weights?: TensorInfo;
  /** [V_u, S] (`classStats`). */
  stats: TensorInfo;
  /** The dz epilogue scales the smoothing term by w_c (classWeights and label smoothing). */
  weightedUniform: boolean;
}

/**
 * The per-token coefficients of one token chunk, [nt, TOKEN_FIELDS], from the
 * five [N] inputs (bound at one shared offset: they fit a binding, or are
 * copied, together), the class statistics and the weights.
 */
export function tokenCoefficients(scratch: GpuScratch, call: GradCall, t0: number, nt: number): TensorInfo {
  const {inputs, attrs} = call;
  const views = (['labels', 'lse', 'argmax', 'dLosses', 'dLse'] as const).map(k => scratch.rows(inputs[k], t0, nt));
  const coef = scratch.allocate([nt, TOKEN_FIELDS], 'float32');
  const uniforms: ProgramUniform[] = [
    i32(nt), i32(views[0].offset), f32(attrs.labelSmoothing), f32(attrs.zLoss), f32(attrs.maxSup),
    i32(attrs.ignoreIndex), i32(call.v),
  ];
  scratch.backend.runWebGPUProgram(new LceTokenCoefProgram(nt, call.weights != null),
                                   [...views.map(view => view.info), call.stats, ...(call.weights ? [call.weights] : [])],
                                   'float32', uniforms, coef);
  views.forEach(view => scratch.release(view.info));
  return coef;
}

/**
 * The softmax filter can only drop what is negligible: with label smoothing
 * or MaxSup every column also carries a uniform term, which no block may
 * lose, so filtering is off then.
 */
export function effectiveFilterEps(attrs: SluiceLinearCrossEntropyGradAttrs): number {
  return attrs.labelSmoothing + attrs.maxSup > 0 ? 0 : attrs.gradFilterEps;
}

/**
 * One dz matmul into `target`, D cut into dispatch-limit chunks: along the
 * output columns for dE and dC, along the output rows for dCt.
 */
function runGradMatMul(scratch: GpuScratch, kind: LceGradMatMulKind, call: GradCall, dz: TensorInfo,
                       other: ColumnView|RowView, target: ColumnView|RowView, nt: number, block: number, d: number,
                       accumulate: boolean) {
  const layout = call.attrs.classifierLayout;
  const transposed = kind === 'dCt';
  const dChunk = scratch.budget.maxWorkgroups * (transposed ? tileRows(TILE) : tileCols(TILE));
  const rows = kind === 'dE' ? nt : block;
  const stride = (view: ColumnView|RowView) => 'stride' in view ? view.stride : d;
  for (const [d0, dCount] of ranges(d, dChunk)) {
    const program = transposed ? new LceGradMatMulProgram(target.info.shape, dCount, block, kind) :
                                 new LceGradMatMulProgram(target.info.shape, rows, dCount, kind, layout);
    const uniforms: ProgramUniform[] = [
      i32(nt), i32(block), i32(d), i32(kind === 'dE' ? 0 : other.offset), i32(kind === 'dE' ? other.offset : 0),
      i32(kind === 'dE' ? stride(other) : 0), i32(target.offset), i32(stride(target)), i32(d0), i32(accumulate ? 1 : 0),
    ];
    scratch.backend.runWebGPUProgram(program, [dz, other.info], 'float32', uniforms, target.info);
  }
}

function backwardTwoPass(scratch: GpuScratch, call: GradCall): TensorInfo[] {
  const {inputs: {embeddings: e, classifier: c}, bias, attrs, v} = call;
  const layout = attrs.classifierLayout;
  const [n, d] = e.shape;
  const backend = scratch.backend;
  const dE = new RowSink(scratch, [n, d], 'float32');
  const dC: OutputSink = layout === 'dv' ? new ColumnSink(scratch, [d, v]) : new RowSink(scratch, [v, d], 'float32');
  const dB = bias ? new RowSink(scratch, [v], 'float32') : undefined;
  const chunk = tokenChunk(n, d, scratch.budget);
  const block = gradBlock(v, d, chunk, attrs.vocabChunk, scratch.budget);
  const tokenChunks = ranges(n, chunk);
  const dETargets = tokenChunks.map(([t0, nt]) => dE.target(t0, nt));
  const filterEps = effectiveFilterEps(attrs);
  const classInputs = [bias, call.weightedUniform ? call.weights : undefined].filter((t): t is TensorInfo => t != null);
  // Once per token chunk, not per (block, chunk): N × TOKEN_FIELDS floats in all, each chunk's within a
  // binding (tokenChunk), alive until the last block.
  const coefficients = tokenChunks.map(([t0, nt]) => tokenCoefficients(scratch, call, t0, nt));

  ranges(v, block).forEach(([v0, bl], blockIndex) => {
    const cView = classifierView(scratch, c, layout, v0, bl);
    const classViews = classInputs.map(t => scratch.rows(t, v0, bl));
    const dCTarget = dC.target(v0, bl);
    const dBTarget = dB?.target(v0, bl);
    tokenChunks.forEach(([t0, nt], chunkIndex) => {
      const eView = scratch.rows(e, t0, nt);
      const tokens = coefficients[chunkIndex];
      const dz = scratch.allocate([gradBlockLength(nt, bl)], 'float32');
      const logits = new LceGradLogitsProgram(dz.shape[0], nt, bl, bias != null, attrs.softcap > 0, layout,
                                              call.weightedUniform);
      const uniforms: ProgramUniform[] = [
        i32(nt), i32(eView.offset), i32(classViews[0]?.offset ?? 0), i32(bl), i32(cView.offset), i32(cView.stride),
        i32(d), i32(v0), f32(attrs.softcap), f32(filterEps),
      ];
      backend.runWebGPUProgram(logits, [eView.info, cView.info, tokens, ...classViews.map(view => view.info)],
                               'float32', uniforms, dz);
      runGradMatMul(scratch, 'dE', call, dz, cView, dETargets[chunkIndex], nt, bl, d, blockIndex > 0);
      runGradMatMul(scratch, layout === 'dv' ? 'dCt' : 'dC', call, dz, eView, dCTarget, nt, bl, d, chunkIndex > 0);
      if (dBTarget) {
        const program = new LceBiasGradProgram(dBTarget.info.shape, bl);
        backend.runWebGPUProgram(program, [dz], 'float32',
                                 [i32(nt), i32(bl), i32(dBTarget.offset), i32(chunkIndex > 0 ? 1 : 0)],
                                 dBTarget.info);
      }
      for (const t of [dz, eView.info]) {
        scratch.release(t);
      }
      // Hands the released dz block back to the pool before the next one.
      scratch.flush();
    });
    dC.commit(dCTarget, v0, bl);
    if (dB && dBTarget) {
      dB.commit(dBTarget, v0, bl);
    }
    [cView, ...classViews].forEach(view => scratch.release(view.info));
  });
  coefficients.forEach(t => scratch.release(t));
  tokenChunks.forEach(([t0, nt], i) => dE.commit(dETargets[i], t0, nt));
  return [dE.info, dC.info, ...(dB ? [dB.info] : [])];
}

function backward(scratch: GpuScratch, inputs: SluiceLinearCrossEntropyGradInputs,
                  attrs: SluiceLinearCrossEntropyGradAttrs): TensorInfo[] {
  const {embeddings: e, classifier: c} = inputs;
  const bias = attrs.hasBias ? inputs.bias : undefined;
  const [n, d] = e.shape;
  const v = vocabOf(c, attrs.classifierLayout);
  if (n === 0) {
    return [scratch.outputFromValues([0, d], 'float32'), scratch.outputFromValues(c.shape, 'float32'),
            ...(bias ? [scratch.outputFromValues([v], 'float32')] : [])];
  }
  const weights = attrs.hasClassWeights ? inputs.classWeights : undefined;
  if (weights != null) {
    scratch.assertBindable('classWeights', weights.shape);  // w_y is gathered by label
  }
  const smooth = attrs.labelSmoothing > 0;
  const call: GradCall = {
    inputs, attrs, v, bias, weights, weightedUniform: smooth && weights != null,
    // V_u and S: only the smoothing and maxSup terms use them.
    stats: classStats(scratch, v, smooth || attrs.maxSup > 0 ? bias : undefined, smooth ? weights : undefined),
  };
  if (env().get(SLUICE_WEBGPU_LCE_BACKWARD) === 'atomic') {
    const outputs = lceGradAtomic(scratch, call, effectiveFilterEps(attrs),
                                  (t0, nt) => tokenCoefficients(scratch, call, t0, nt));
    if (outputs != null) {
      return outputs;
    }
  }
  return backwardTwoPass(scratch, call);
}

export const sluiceLinearCrossEntropyGradConfig: KernelConfig =
    lceKernelConfig<SluiceLinearCrossEntropyGradInputs, SluiceLinearCrossEntropyGradAttrs>(
        SluiceLinearCrossEntropyGrad, backward);
