import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';
import {ranges} from '@sluice/core/internal';

import {columnSums} from '../column_sum_gpu';
import {chunkUniformValues} from '../glsl_util';
import {batchMatMulImpl, concat, MathBackendWebGL, reshape} from '../internal';
import {classStats, packedWeightsRow} from '../lce_classes_gpu';
import {LceGradLogitsProgram, LceRowInfoProgram} from '../lce_grad_logits_gpu';
import {chunkLogits, Scratch, vocabOf, webglVocabChunk} from '../lce_plan';

/**
 * Outputs [dEmbeddings [N, D], dClassifier in the classifier's layout ([V, D]
 * or [D, V]), dBias [V] (only when attrs.hasBias: without a bias the op's
 * zeros are neither read nor differentiated)]. Per vocabulary chunk: recompute the logits, build
 * dL/dx [N, chunk] in one fragment program (packed, like the matmuls around
 * it, so no copy of the block is made; masked classes get exactly 0), then
 * dE += dx·C_chunk (the running dE rides in as the matmul's fused bias, so
 * accumulating costs no extra pass), dC_chunk = dxᵀ·E ('vd', [chunk, D]) or
 * Eᵀ·dx ('dv', [D, chunk]: the [D, V] gradient is built directly, never
 * transposed) and dBias_chunk = column sums of dx. The dC and dBias chunks
 * are concatenated at the end: peak memory is O(N × chunk) plus the [V, D]
 * gradient (twice during the final concat), never N×V.
 *
 * Float32 accumulation order: dE and dC are tfjs's packed matmuls (over the
 * chunk's columns, resp. the N tokens, in index order, two at a time); dE
 * adds the chunks in vocabulary order (chunk k's product plus the running
 * sum); dBias is a 64-wide column-sum tree over the N tokens
 * (column_sum_gpu.ts); V_u and S as in the forward (lce_classes_gpu.ts).
 *
 * `gradFilterEps` is not applied: skipping a block would need its largest
 * probability on the CPU, a GPU→CPU read per block that stalls the pipeline
 * and costs more than the block's two matmuls on webgl.
 */
export function sluiceLinearCrossEntropyGradWebGL(args: {
  inputs: SluiceLinearCrossEntropyGradInputs,
  backend: MathBackendWebGL,
  attrs: SluiceLinearCrossEntropyGradAttrs,
}): TensorInfo[] {
  const {inputs: {dLosses, dLse, embeddings: e, classifier: c, labels, lse, argmax, classWeights}, backend, attrs} =
      args;
  const layout = attrs.classifierLayout ?? 'vd';
  const dv = layout === 'dv';
  const bias = attrs.hasBias === false ? undefined : args.inputs.bias;
  const weights = attrs.hasClassWeights && classWeights != null ? classWeights : undefined;
  const [n, d] = e.shape;
  const v = vocabOf(c, layout);
  if (n === 0) {
    return [backend.makeTensorInfo([0, d], 'float32', new Float32Array(0)),
            backend.makeTensorInfo(c.shape.slice(), 'float32', new Float32Array(v * d)),
            ...(bias != null ? [backend.makeTensorInfo([v], 'float32', new Float32Array(v))] : [])];
  }
  const {labelSmoothing: ls, maxSup} = attrs;
  const hasStats = ls !== 0 || maxSup !== 0;  // V_u and S only scale the ls and maxSup terms
  const weighted = weights != null && ls !== 0;
  const scratch = new Scratch(backend);
  try {
    const infoInputs = [lse, dLosses, dLse, labels, argmax];
    if (weights != null) infoInputs.push(weights);
    if (hasStats) infoInputs.push(classStats(backend, scratch, v, bias, weights));
    const rowInfo = scratch.add(backend.runWebGLProgram(
        new LceRowInfoProgram(n, weights != null, hasStats), infoInputs, 'float32',
        [[attrs.ignoreIndex], [attrs.zLoss], [v], [ls], [maxSup]]));
    const packedWeights = weighted ? packedWeightsRow(backend, scratch, weights!) : null;
    let dE: TensorInfo|null = null;
    const dCChunks: TensorInfo[] = [];
    const dBChunks: TensorInfo[] = [];
    for (const [start, size] of ranges(v, webglVocabChunk(n, v, attrs.vocabChunk))) {
      const {cChunk, logits} = chunkLogits(backend, scratch, e, c, bias, layout, start, size);
      const gradInputs = packedWeights == null ? [logits, rowInfo] : [logits, rowInfo, packedWeights];
      const dx = scratch.add(backend.runWebGLProgram(new LceGradLogitsProgram(n, size, weighted), gradInputs,
                                                     'float32', chunkUniformValues(start, attrs.softcap)));
      scratch.dispose(logits);
      const nextDE: TensorInfo = scratch.add(batchMatMulImpl(
          {a: dx, b: cChunk, transposeA: false, transposeB: dv, backend, bias: dE ?? undefined}));
      scratch.dispose(dE);
      dE = nextDE;
      dCChunks.push(scratch.add(dv ? batchMatMulImpl({a: e, b: dx, transposeA: true, transposeB: false, backend}) :
                                     batchMatMulImpl({a: dx, b: e, transposeA: true, transposeB: false, backend})));
      if (bias != null) dBChunks.push(scratch.add(columnSums(backend, dx)));
      scratch.dispose(dx);
      scratch.dispose(cChunk);
    }
    let dC = dCChunks[0];
    if (dCChunks.length > 1) {
      dC = scratch.add(concat({inputs: dCChunks, backend, attrs: {axis: dv ? 1 : 0}}));
      dCChunks.forEach(t => scratch.dispose(t));
    }
    if (bias == null) {
      return [scratch.release(dE!), scratch.release(dC)];
    }
    let dBRow = dBChunks[0];
    if (dBChunks.length > 1) {
      dBRow = scratch.add(concat({inputs: dBChunks, backend, attrs: {axis: 1}}));
      dBChunks.forEach(t => scratch.dispose(t));
    }
    const dB = scratch.add(reshape({inputs: {x: dBRow}, backend, attrs: {shape: [v]}}));
    return [scratch.release(dE!), scratch.release(dC), scratch.release(dB)];
  } finally {
    scratch.disposeAll();
  }
}

export const sluiceLinearCrossEntropyGradConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropyGrad,
  backendName: 'webgl',
  kernelFunc: sluiceLinearCrossEntropyGradWebGL as unknown as KernelFunc,
};
