import {env, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';

import {SLUICE_WEBGPU_LCE_BACKWARD} from '../flags_webgpu';
import {GpuScratch, RowSink, RowView} from '../gpu_scratch';
import type {ProgramUniform} from '../internal';
import {LceBiasGradProgram} from '../lce_bias_grad_webgpu';
import {gradBlockLength, LceGradLogitsProgram} from '../lce_grad_logits_webgpu';
import {LceTokenCoefProgram, TOKEN_FIELDS} from '../lce_token_coef_webgpu';
import {LceGradMatMulKind, LceGradMatMulProgram} from '../lce_grad_matmul_webgpu';
import {ranges} from '@sluice/core/internal';
import {gradBlock, lceKernelConfig, tokenChunk} from '../lce_plan';
import {TILE, tileCols} from '../shader_util';

import {lceGradAtomic} from '../lce_grad_atomic';
import {f32, i32} from '../uniforms';

/**
 * The per-token coefficients of one token chunk, [nt, 8], from the five [N]
 * inputs (bound at one shared offset: they fit a binding, or are copied, together).
 */
export function tokenCoefficients(scratch: GpuScratch, inputs: SluiceLinearCrossEntropyGradInputs,
                                  attrs: SluiceLinearCrossEntropyGradAttrs, t0: number, nt: number): TensorInfo {
  const views = (['labels', 'lse', 'argmax', 'dLosses', 'dLse'] as const).map(k => scratch.rows(inputs[k], t0, nt));
  const coef = scratch.allocate([nt, TOKEN_FIELDS], 'float32');
  const uniforms: ProgramUniform[] = [
    i32(nt), i32(views[0].offset), f32(attrs.labelSmoothing), f32(attrs.zLoss), f32(attrs.maxSup),
    i32(attrs.ignoreIndex), f32(1 / inputs.classifier.shape[0]), i32(inputs.classifier.shape[0]),
  ];
  scratch.backend.runWebGPUProgram(new LceTokenCoefProgram(nt), views.map(view => view.info), 'float32', uniforms,
                                   coef);
  views.forEach(view => scratch.release(view.info));
  return coef;
}

/**
 * The softmax filter can only drop what is negligible: with label smoothing
 * or MaxSup every column also carries the uniform −g(ls + α)/V term, which no
 * block may lose, so filtering is off then.
 */
export function effectiveFilterEps(attrs: SluiceLinearCrossEntropyGradAttrs): number {
  return attrs.labelSmoothing + attrs.maxSup > 0 ? 0 : attrs.gradFilterEps;
}

function runGradMatMul(scratch: GpuScratch, kind: LceGradMatMulKind, dz: TensorInfo, other: RowView,
                       target: RowView, nt: number, block: number, d: number, accumulate: boolean) {
  const colChunk = scratch.budget.maxWorkgroups * tileCols(TILE);
  const rows = kind === 'dE' ? nt : block;
  for (const [c0, cols] of ranges(d, colChunk)) {
    const program = new LceGradMatMulProgram(target.info.shape, rows, cols, kind);
    const uniforms: ProgramUniform[] = [
      i32(nt), i32(block), i32(d), i32(other.offset), i32(target.offset), i32(c0), i32(accumulate ? 1 : 0),
    ];
    scratch.backend.runWebGPUProgram(program, [dz, other.info], 'float32', uniforms, target.info);
  }
}

function backwardTwoPass(scratch: GpuScratch, inputs: SluiceLinearCrossEntropyGradInputs,
                         attrs: SluiceLinearCrossEntropyGradAttrs): TensorInfo[] {
  const {embeddings: e, classifier: c, bias} = inputs;
  const [n, d] = e.shape;
  const v = c.shape[0];
  const backend = scratch.backend;
  const dE = new RowSink(scratch, [n, d], 'float32');
  const dC = new RowSink(scratch, [v, d], 'float32');
  const dB = bias ? new RowSink(scratch, [v], 'float32') : undefined;
  const chunk = tokenChunk(n, d, scratch.budget);
  const block = gradBlock(v, d, chunk, attrs.vocabChunk, scratch.budget);
  const tokenChunks = ranges(n, chunk);
  const dETargets = tokenChunks.map(([t0, nt]) => dE.target(t0, nt));
  const filterEps = effectiveFilterEps(attrs);

  ranges(v, block).forEach(([v0, bl], blockIndex) => {
    const cView = scratch.rows(c, v0, bl);
    const bView = bias ? scratch.rows(bias, v0, bl) : undefined;
    const dCTarget = dC.target(v0, bl);
    const dBTarget = dB?.target(v0, bl);
    tokenChunks.forEach(([t0, nt], chunkIndex) => {
      const eView = scratch.rows(e, t0, nt);
      const tokens = tokenCoefficients(scratch, inputs, attrs, t0, nt);
      const dz = scratch.allocate([gradBlockLength(nt, bl)], 'float32');
      const logits = new LceGradLogitsProgram(dz.shape[0], nt, bl, bView != null, attrs.softcap > 0);
      const uniforms: ProgramUniform[] = [
        i32(nt), i32(eView.offset), i32(bView?.offset ?? 0), i32(bl), i32(cView.offset), i32(d), i32(v0), f32(attrs.softcap), f32(filterEps),
      ];
      backend.runWebGPUProgram(logits, [eView.info, cView.info, tokens, ...(bView ? [bView.info] : [])], 'float32',
                               uniforms, dz);
      runGradMatMul(scratch, 'dE', dz, cView, dETargets[chunkIndex], nt, bl, d, blockIndex > 0);
      runGradMatMul(scratch, 'dC', dz, eView, dCTarget, nt, bl, d, chunkIndex > 0);
      if (dBTarget) {
        const program = new LceBiasGradProgram(dBTarget.info.shape, bl);
        backend.runWebGPUProgram(program, [dz], 'float32',
                                 [i32(nt), i32(bl), i32(dBTarget.offset), i32(chunkIndex > 0 ? 1 : 0)],
                                 dBTarget.info);
      }
      for (const t of [dz, eView.info, tokens]) {
        scratch.release(t);
      }
      // Hands the released dz block back to the pool before the next one.
      scratch.flush();
    });
    dC.commit(dCTarget, v0, bl);
    if (dB && dBTarget) {
      dB.commit(dBTarget, v0, bl);
    }
    scratch.release(cView.info);
    if (bView) {
      scratch.release(bView.info);
    }
  });
  tokenChunks.forEach(([t0, nt], i) => dE.commit(dETargets[i], t0, nt));
  return [dE.info, dC.info, ...(dB ? [dB.info] : [])];
}

function backward(scratch: GpuScratch, inputs: SluiceLinearCrossEntropyGradInputs,
                  attrs: SluiceLinearCrossEntropyGradAttrs): TensorInfo[] {
  const {embeddings: e, classifier: c, bias} = inputs;
  const [n, d] = e.shape;
  const v = c.shape[0];
  if (n === 0) {
    return [scratch.outputFromValues([0, d], 'float32'), scratch.outputFromValues([v, d], 'float32'),
            ...(bias ? [scratch.outputFromValues([v], 'float32')] : [])];
  }
  if (env().get(SLUICE_WEBGPU_LCE_BACKWARD) === 'atomic') {
    const outputs = lceGradAtomic(scratch, inputs, attrs, effectiveFilterEps(attrs),
                                  (t0, nt) => tokenCoefficients(scratch, inputs, attrs, t0, nt));
    if (outputs != null) {
      return outputs;
    }
  }
  return backwardTwoPass(scratch, inputs, attrs);
}

export const sluiceLinearCrossEntropyGradConfig: KernelConfig = lceKernelConfig<SluiceLinearCrossEntropyGradInputs, SluiceLinearCrossEntropyGradAttrs>(SluiceLinearCrossEntropyGrad, backward);
