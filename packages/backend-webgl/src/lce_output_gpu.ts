/**
 * Per-token outputs of the fused cross-entropy forward, read from the folded
 * state [N, 2, 2] = (max, Σexp, argmax, Σz) per token (sums over the unmasked
 * classes U), the extras (m, Q = Σ exp(z − m)·(z − m), Σ w z, s = Σ exp(z − m)),
 * the label logits [N, 2] = (label, pre-cap x_y) and the class stats
 * (V_u, S = Σ_{c∈U} w_c):
 *   'lse'     max + log Σexp (every token, ignored ones included; NaN when
 *             no class is unmasked),
 *   'argmax'  the first index of the row maximum over U,
 *   'entropy' lse − Σ_c p_c z_c = log s − Q / s (relative to the max: no
 *             cancellation under a large shared logit offset; NaN when s = 0),
 *   'loss'    (1 − ls)·w_y·(lse − z_y) + (ls / V_u)·(S·lse − Σ w z) + zLoss·w_y·lse²
 *             + maxSup·w_y·(max − Σz / V_u); 0 for ignored tokens, NaN for a kept
 *             label outside [0, V) and for every kept token when no class is
 *             unmasked, +Inf for a label at a masked class.
 * z_y comes from the matmul's logits of the label's chunk (`LceLabelLogitProgram`),
 * the same values the fold saw; no input here is [V, D] or [N, D], so nothing
 * that size is ever unpacked for these programs (their inputs are all O(N) or
 * O(V): tfjs unpacks the packed state and label logits, N × 6 floats).
 */
import type {GPGPUProgram, UniformType} from './internal';
import {AS_INT_SNIPPET, MASK_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';

export type LceOutput = 'lse'|'argmax'|'entropy';

/** lse of token i from the state; NaN when Σexp = 0 (V_u = 0: nothing was folded). */
const LSE_OF = `
  float sluiceLse(int i) {
    float s = getState(i, 0, 1);
    return s > 0.0 ? getState(i, 0, 0) + log(s) : NAN;
  }
`;

export class LceStatOutputProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;

  /** `entropyInState`: the fold kept Q in the state's fourth field (no extras). */
  constructor(tokens: number, output: LceOutput, entropyInState = false) {
    this.outputShape = [tokens];
    this.variableNames = output === 'entropy' && !entropyInState ? ['state', 'extras'] : ['state'];
    const value = {
      lse: 'sluiceLse(i)',
      argmax: 'getState(i, 1, 0)',
      entropy: 'sluiceEntropy(i)',
    }[output];
    this.userCode = `
      ${LSE_OF}
      ${output === 'entropy' ? `
      float sluiceEntropy(int i) {
        float s = ${entropyInState ? 'getState(i, 0, 1)' : 'getExtras(i, 1, 1)'};
        return s > 0.0 ? log(s) - ${entropyInState ? 'getState(i, 1, 1)' : 'getExtras(i, 0, 1)'} / s : NAN;
      }` : ''}
      void main() {
        int i = getOutputCoords();
        setOutput(${value});
      }
    `;
  }
}

export interface LceLossVariant {
  /** classWeights are read (w_y); with `weightedSum` also Σ w z from the extras. */
  hasWeights: boolean;
  weightedSum: boolean;
  /** V_u and S are read from the class stats (needed when ls > 0 or maxSup > 0). */
  hasStats: boolean;
}

export class LceLossProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms = [
    {name: 'ignoreIndex', type: 'int' as UniformType},
    {name: 'vocab', type: 'int' as UniformType},
    {name: 'softcap', type: 'float' as UniformType},
    {name: 'labelSmoothing', type: 'float' as UniformType},
    {name: 'zLoss', type: 'float' as UniformType},
    {name: 'maxSup', type: 'float' as UniformType},
  ];

  /** Inputs in order: state, label logits, then weights, stats, extras as the variant has them. */
  constructor(tokens: number, o: LceLossVariant) {
    this.outputShape = [tokens];
    this.variableNames = ['state', 'labelLogits'];
    if (o.hasWeights) this.variableNames.push('weights');
    if (o.hasStats) this.variableNames.push('stats');
    if (o.weightedSum) this.variableNames.push('extras');
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${AS_INT_SNIPPET}
      ${MASK_SNIPPET}
      ${LSE_OF}

      void main() {
        int i = getOutputCoords();
        int y = sluiceAsInt(getLabelLogits(i, 0));
        if (y == ignoreIndex) {
          setOutput(0.0);
          return;
        }
        // A kept label outside [0, V) (only reachable when the op could not check labels), or no
        // unmasked class at all (Σexp = 0, lse NaN): the loss is NaN, whatever the weights.
        if (y < 0 || y >= vocab || !(getState(i, 0, 1) > 0.0)) {
          setOutput(NAN);
          return;
        }
        float m = getState(i, 0, 0);
        float lse = sluiceLse(i);
        float x = getLabelLogits(i, 1);
        // z_y = −Inf at a masked class (its loss is +Inf, as PyTorch's).
        float zy = sluiceMasked(x) ? -sluiceInf() : sluiceSoftcap(x, softcap);
        float wy = ${o.hasWeights ? 'getWeights(y)' : '1.0'};
        float vu = ${o.hasStats ? 'getStats(0, 0)' : 'float(vocab)'};
        float sumW = ${o.hasStats ? 'getStats(0, 1)' : 'float(vocab)'};
        float sumZ = getState(i, 1, 1);
        float sumWZ = ${o.weightedSum ? 'getExtras(i, 1, 0)' : 'sumZ'};
        float loss = (1.0 - labelSmoothing) * wy * (lse - zy);
        if (labelSmoothing != 0.0) {
          loss += labelSmoothing / vu * (sumW * lse - sumWZ);
        }
        loss += zLoss * wy * lse * lse;
        if (maxSup != 0.0) {
          loss += maxSup * wy * (m - sumZ / vu);
        }
        setOutput(loss);
      }
    `;
  }
}
