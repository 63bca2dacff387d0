import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';

import {columnSums} from '../column_sum_gpu';
import {MathBackendWebGL, reshape} from '../internal';
import {LceFoldProgram} from '../lce_fold_gpu';
import {LceOutputProgram, RowMeanSource} from '../lce_output_gpu';
import {ranges} from '@sluice/core/internal';
import {chunkLogits, Scratch, webglVocabChunk} from '../lce_plan';

/**
 * Outputs [losses [N], lse [N], argmax [N] int32]; see `SluiceLinearCrossEntropy`
 * in @sluice/core. Per vocabulary chunk: logits [N, chunk] by tfjs's packed
 * matmul (bias fused), folded into the per-token state [N, 2, 2] by
 * `LceFoldProgram`; then the label logit, row mean and loss once per token.
 * Memory beyond the inputs is O(N × chunk + N + D).
 */
export function sluiceLinearCrossEntropyWebGL(args: {
  inputs: SluiceLinearCrossEntropyInputs,
  backend: MathBackendWebGL,
  attrs: SluiceLinearCrossEntropyAttrs,
}): TensorInfo[] {
  const {inputs: {embeddings: e, classifier: c, labels, bias}, backend, attrs} = args;
  const [n, d] = e.shape;
  const v = c.shape[0];
  if (n === 0) {
    return [backend.makeTensorInfo([0], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([0], 'float32', new Float32Array(0)),
            backend.makeTensorInfo([0], 'int32', new Int32Array(0))];
  }
  const {softcap, labelSmoothing: ls, maxSup} = attrs;
  const scratch = new Scratch(backend);
  try {
    let state: TensorInfo|null = null;
    for (const [start, size] of ranges(v, webglVocabChunk(n, v, attrs.vocabChunk))) {
      const {cChunk, logits} = chunkLogits(backend, scratch, e, c, bias, start, size);
      scratch.dispose(cChunk);
      const program = new LceFoldProgram(n, size, state == null);
      const next: TensorInfo = scratch.add(backend.runWebGLProgram(
          program, state == null ? [logits] : [logits, state], 'float32', [[start], [softcap]]));
      scratch.dispose(logits);
      scratch.dispose(state);
      state = next;
    }
    const folded = state!;

    const hasBias = bias != null;
    const mean: RowMeanSource = ls === 0 && maxSup === 0 ? 'none' : softcap > 0 ? 'sumZ' : 'columns';
    const lossInputs = [folded, labels, e, c];
    if (hasBias) lossInputs.push(bias);
    if (mean === 'columns') {
      // mean_j z_j = (e · Σ_j c_j + Σ_j b_j) / V without a cap: two column sums, once.
      lossInputs.push(scratch.add(columnSums(backend, c)));
      if (hasBias) {
        const column = scratch.add(reshape({inputs: {x: bias}, backend, attrs: {shape: [v, 1]}}));
        lossInputs.push(scratch.add(columnSums(backend, column)));
      }
    }
    const lossUniforms = [[attrs.ignoreIndex], [v], [softcap], [ls], [attrs.zLoss], [maxSup]];
    const losses = scratch.add(backend.runWebGLProgram(new LceOutputProgram(n, 'loss', d, hasBias, mean), lossInputs,
                                                       'float32', lossUniforms));
    const lse = scratch.add(backend.runWebGLProgram(new LceOutputProgram(n, 'lse'), [folded], 'float32'));
    const argmax = scratch.add(backend.runWebGLProgram(new LceOutputProgram(n, 'argmax'), [folded], 'int32'));
    return [scratch.release(losses), scratch.release(lse), scratch.release(argmax)];
  } finally {
    scratch.disposeAll();
  }
}

export const sluiceLinearCrossEntropyConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropy,
  backendName: 'webgl',
  kernelFunc: sluiceLinearCrossEntropyWebGL as unknown as KernelFunc,
};
