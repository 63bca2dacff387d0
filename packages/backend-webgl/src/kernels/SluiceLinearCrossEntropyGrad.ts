import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';

import {columnSums} from '../column_sum_gpu';
import {batchMatMulImpl, concat, MathBackendWebGL, reshape} from '../internal';
import {LceGradLogitsProgram, LceRowInfoProgram} from '../lce_grad_logits_gpu';
import {ranges} from '@sluice/core/internal';
import {chunkLogits, Scratch, webglVocabChunk} from '../lce_plan';

/**
 * Outputs [dEmbeddings [N, D], dClassifier [V, D], dBias [V]]. Per vocabulary
 * chunk: recompute the logits, build dL/dx [N, chunk] in one fragment program
 * (packed, like the matmuls around it, so no copy of the block is made),
 * then dE += dx·C_chunk (the running dE rides in as the matmul's fused bias,
 * so accumulating costs no extra pass), dC_chunk = dxᵀ·E and dBias_chunk =
 * column sums of dx. The dC and dBias chunks are concatenated at the end:
 * peak memory is O(N × chunk) plus the [V, D] gradient (twice during the
 * final concat), never N×V.
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
  const {inputs: {dLosses, dLse, embeddings: e, classifier: c, labels, lse, argmax, bias}, backend, attrs} = args;
  const [n, d] = e.shape;
  const v = c.shape[0];
  if (n === 0) {
    return [backend.makeTensorInfo([0, d], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([v, d], 'float32', new Float32Array(v * d)),
            backend.makeTensorInfo([v], 'float32', new Float32Array(v))];
  }
  const uniformsAt = (start: number) => [[start], [v], [attrs.softcap], [attrs.labelSmoothing], [attrs.maxSup]];
  const scratch = new Scratch(backend);
  try {
    const rowInfo = scratch.add(backend.runWebGLProgram(new LceRowInfoProgram(n), [lse, dLosses, dLse, labels, argmax],
                                                        'float32', [[attrs.ignoreIndex], [attrs.zLoss], [v]]));
    let dE: TensorInfo|null = null;
    const dCChunks: TensorInfo[] = [];
    const dBChunks: TensorInfo[] = [];
    for (const [start, size] of ranges(v, webglVocabChunk(n, v, attrs.vocabChunk))) {
      const {cChunk, logits} = chunkLogits(backend, scratch, e, c, bias, start, size);
      const dx = scratch.add(backend.runWebGLProgram(new LceGradLogitsProgram(n, size), [logits, rowInfo],
                                                     'float32', uniformsAt(start)));
      scratch.dispose(logits);
      const nextDE: TensorInfo = scratch.add(batchMatMulImpl(
          {a: dx, b: cChunk, transposeA: false, transposeB: false, backend, bias: dE ?? undefined}));
      scratch.dispose(dE);
      dE = nextDE;
      dCChunks.push(scratch.add(batchMatMulImpl({a: dx, b: e, transposeA: true, transposeB: false, backend})));
      dBChunks.push(scratch.add(columnSums(backend, dx)));
      scratch.dispose(dx);
      scratch.dispose(cChunk);
    }
    let dC = dCChunks[0];
    let dBRow = dBChunks[0];
    if (dCChunks.length > 1) {
      dC = scratch.add(concat({inputs: dCChunks, backend, attrs: {axis: 0}}));
      dCChunks.forEach(t => scratch.dispose(t));
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
