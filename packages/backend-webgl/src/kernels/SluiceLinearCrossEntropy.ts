import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';
import {ranges} from '@sluice/core/internal';

import {chunkUniformValues} from '../glsl_util';
import type {MathBackendWebGL} from '../internal';
import {classStats, packedWeightsRow} from '../lce_classes_gpu';
import {LceFoldExtrasProgram, LceFoldProgram, LceLabelLogitProgram} from '../lce_fold_gpu';
import {LceLossProgram, LceStatOutputProgram} from '../lce_output_gpu';
import {chunkLogits, packedAs, Scratch, vocabOf, webglVocabChunk} from '../lce_plan';

/**
 * Outputs [losses [N], lse [N], argmax [N] int32, entropy [N] or [0]]; see
 * `SluiceLinearCrossEntropy` in @sluice/core. Per vocabulary chunk: logits
 * [N, chunk] by tfjs's packed matmul (bias fused; a −Inf bias entry masks its
 * class), folded into the per-token state [N, 2, 2] by `LceFoldProgram`
 * (and, for weighted smoothing or the entropy beside smoothing or maxSup,
 * `LceFoldExtrasProgram`; the entropy alone rides in the fold's state), the
 * label's logit picked from its chunk (`LceLabelLogitProgram`); then the loss
 * once per token. The classifier is read in its layout ('vd' [V, D] or 'dv'
 * [D, V]), never transposed in memory, and only by the packed matmul: a
 * packed classifier (what an optimizer update leaves) is never unpacked.
 * Without a bias (attrs.hasBias false) the zeros the op passes are not read.
 * Memory beyond the inputs is O(N × chunk + N + D + V).
 *
 * Float32 accumulation order: see lce_fold_gpu.ts (per-token sums, serial in
 * vocabulary order), lce_classes_gpu.ts (V_u and S: 64-wide column-sum tree);
 * the logits themselves, the label's included, are tfjs's packed matmul (D
 * order, two at a time).
 */
export function sluiceLinearCrossEntropyWebGL(args: {
  inputs: SluiceLinearCrossEntropyInputs,
  backend: MathBackendWebGL,
  attrs: SluiceLinearCrossEntropyAttrs,
}): TensorInfo[] {
  const {inputs: {embeddings: e, classifier: c, labels, classWeights}, backend, attrs} = args;
  const layout = attrs.classifierLayout ?? 'vd';
  // A bias the caller did not give is zeros: not read (attrs.hasBias false).
  const bias = attrs.hasBias === false ? undefined : args.inputs.bias;
  const weights = attrs.hasClassWeights && classWeights != null ? classWeights : undefined;
  const n = e.shape[0];
  const v = vocabOf(c, layout);
  const entropy = attrs.computeEntropy === true;
  if (n === 0) {
    const empty = (dtype: 'float32'|'int32') =>
        backend.makeTensorInfo([0], dtype, dtype === 'int32' ? new Int32Array(0) : new Float32Array(0));
    return [empty('float32'), empty('float32'), empty('int32'), empty('float32')];
  }
  const {softcap, labelSmoothing: ls, maxSup} = attrs;
  const weightedSum = weights != null && ls !== 0;
  // Without smoothing or maxSup the state's fourth field (Σz) is free: the fold keeps the entropy's Q
  // there, and the entropy needs no second pass over each chunk.
  const entropyInState = entropy && ls === 0 && maxSup === 0;
  const extrasEntropy = entropy && !entropyInState;
  const needExtras = extrasEntropy || weightedSum;
  const scratch = new Scratch(backend);
  try {
    const packedWeights = weightedSum ? packedWeightsRow(backend, scratch, weights!) : null;
    // The labels as a packed [N, 1] column, for the first label-logit program (later ones read its output).
    const labelColumn = packedAs(backend, scratch, labels, [n, 1]);
    let state: TensorInfo|null = null;
    let extras: TensorInfo|null = null;
    let labelLogits: TensorInfo|null = null;
    for (const [start, size] of ranges(v, webglVocabChunk(n, v, attrs.vocabChunk))) {
      const {cChunk, logits} = chunkLogits(backend, scratch, e, c, bias, layout, start, size);
      scratch.dispose(cChunk);
      const uniforms = chunkUniformValues(start, softcap);
      const next: TensorInfo = scratch.add(backend.runWebGLProgram(
          new LceFoldProgram(n, size, state == null, entropyInState ? 'entropy' : 'sumZ'), state == null ? [logits] : [logits, state], 'float32',
          uniforms));
      scratch.dispose(state);
      state = next;
      const nextLabelLogits: TensorInfo = scratch.add(backend.runWebGLProgram(
          new LceLabelLogitProgram(n, size, labelLogits == null), [logits, labelLogits ?? labelColumn], 'float32',
          [[start]]));
      scratch.dispose(labelLogits);
      labelLogits = nextLabelLogits;
      if (needExtras) {
        const ins = [logits, state];
        if (extras != null) ins.push(extras);
        if (packedWeights != null) ins.push(packedWeights);
        const nextExtras: TensorInfo = scratch.add(backend.runWebGLProgram(
            new LceFoldExtrasProgram(n, size, extras == null, extrasEntropy, weightedSum), ins, 'float32', uniforms));
        scratch.dispose(extras);
        extras = nextExtras;
      }
      scratch.dispose(logits);
    }
    const folded = state!;
    scratch.dispose(labelColumn);

    const hasStats = ls !== 0 || maxSup !== 0;
    const lossInputs = [folded, labelLogits!];
    if (weights != null) lossInputs.push(weights);
    if (hasStats) lossInputs.push(classStats(backend, scratch, v, bias, weights));
    if (weightedSum) lossInputs.push(extras!);
    const program = new LceLossProgram(n, {hasWeights: weights != null, weightedSum, hasStats});
    const lossUniforms = [[attrs.ignoreIndex], [v], [softcap], [ls], [attrs.zLoss], [maxSup]];
    const losses = scratch.add(backend.runWebGLProgram(program, lossInputs, 'float32', lossUniforms));
    const stat = (output: 'lse'|'argmax'|'entropy', dtype: 'float32'|'int32') => scratch.add(
        backend.runWebGLProgram(new LceStatOutputProgram(n, output, entropyInState),
                                output === 'entropy' && !entropyInState ? [folded, extras!] : [folded], dtype));
    const lse = stat('lse', 'float32');
    const argmax = stat('argmax', 'int32');
    const ent = entropy ? stat('entropy', 'float32') : backend.makeTensorInfo([0], 'float32', new Float32Array(0));
    return [scratch.release(losses), scratch.release(lse), scratch.release(argmax), scratch.release(ent)];
  } finally {
    scratch.disposeAll();
  }
}

export const sluiceLinearCrossEntropyConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropy,
  backendName: 'webgl',
  kernelFunc: sluiceLinearCrossEntropyWebGL as unknown as KernelFunc,
};
