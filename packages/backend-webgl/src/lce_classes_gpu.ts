/**
 * Per-vocabulary quantities the fused cross-entropy kernels share across
 * tokens: V_u (the unmasked classes, bias > −Inf) and S = Σ_{c∈U} w_c, as a
 * [1, 2] tensor (V_u, S) on the GPU, so nothing is read back. A [V, 2]
 * indicator (1, w_c) per unmasked class is summed by `columnSums`: a tree of
 * 64-long float32 sums (V_u is exact below 2^24; S within log64(V) roundings).
 * Also the classWeights as a packed [1, V] row, for the packed programs that
 * read w_c next to a packed logits texel (packed once per call, not per chunk).
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';

import {columnSums} from './column_sum_gpu';
import {MASK_SNIPPET} from './glsl_util';
import type {GPGPUProgram, MathBackendWebGL} from './internal';
import {packedAs, Scratch} from './lce_plan';

class ClassIndicatorProgram implements GPGPUProgram {
  variableNames: string[] = [];
  outputShape: number[];
  userCode: string;

  constructor(vocab: number, hasBias: boolean, hasWeights: boolean) {
    this.outputShape = [vocab, 2];
    if (hasBias) this.variableNames.push('bias');
    if (hasWeights) this.variableNames.push('weights');
    this.userCode = `
      ${MASK_SNIPPET}
      void main() {
        ivec2 rc = getOutputCoords();
        ${hasBias ? 'if (sluiceMasked(getBias(rc.x))) { setOutput(0.0); return; }' : ''}
        setOutput(rc.y == 0 ? 1.0 : ${hasWeights ? 'getWeights(rc.x)' : '1.0'});
      }
    `;
  }
}

/** (V_u, S) as [1, 2], registered in `scratch`. */
export function classStats(backend: MathBackendWebGL, scratch: Scratch, vocab: number, bias: TensorInfo|undefined,
                           weights: TensorInfo|undefined): TensorInfo {
  const inputs = [bias, weights].filter((t): t is TensorInfo => t != null);
  const indicator = scratch.add(backend.runWebGLProgram(
      new ClassIndicatorProgram(vocab, bias != null, weights != null), inputs, 'float32'));
  const stats = scratch.add(columnSums(backend, indicator));
  scratch.dispose(indicator);
  return stats;
}

/** classWeights [V] as a packed [1, V] tensor, registered in `scratch`. */
export function packedWeightsRow(backend: MathBackendWebGL, scratch: Scratch, weights: TensorInfo): TensorInfo {
  return packedAs(backend, scratch, weights, [1, weights.shape[0]]);
}
