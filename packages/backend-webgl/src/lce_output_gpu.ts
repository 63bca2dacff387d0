/**
 * Per-token outputs of the fused cross-entropy forward, read from the folded
 * state [N, 2, 2] = (max, Σexp, argmax, Σz) per token:
 *   'lse'    max + log Σexp (every token, ignored ones included),
 *   'argmax' the first index of the row maximum,
 *   'loss'   lse − (1 − ls)·z_y − ls·mean z + zLoss·lse² + maxSup·(max − mean z),
 *            0 for ignored tokens, NaN for a kept label outside [0, V).
 * The label logit is computed here once per token (a D-long dot product);
 * the row mean comes from Σz with a softcap, else from e·ΣC + Σbias (column
 * sums computed once), divided by V.
 */
import type {GPGPUProgram, UniformType} from './internal';
import {AS_INT_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';

export type LceOutput = 'lse'|'argmax'|'loss';

/**
 * Where the loss takes mean_j z_j from: not needed (ls = maxSup = 0), the
 * folded Σz (softcap), or column sums of C and the bias (no softcap).
 * Compile-time because the inputs differ.
 */
export type RowMeanSource = 'none'|'sumZ'|'columns';

export class LceOutputProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms?: Array<{name: string, type: UniformType}>;

  constructor(tokens: number, output: LceOutput, dim = 0, hasBias = false, mean: RowMeanSource = 'none') {
    this.outputShape = [tokens];
    if (output !== 'loss') {
      this.variableNames = ['state'];
      this.userCode = `
        void main() {
          int i = getOutputCoords();
          setOutput(${output === 'lse' ? 'getState(i, 0, 0) + log(getState(i, 0, 1))' : 'getState(i, 1, 0)'});
        }
      `;
      return;
    }
    this.variableNames = ['state', 'labels', 'E', 'C'];
    if (hasBias) this.variableNames.push('bias');
    if (mean === 'columns') {
      this.variableNames.push('colSumC');
      if (hasBias) this.variableNames.push('biasSum');
    }
    this.customUniforms = [
      {name: 'ignoreIndex', type: 'int'},
      {name: 'vocab', type: 'int'},
      {name: 'softcap', type: 'float'},
      {name: 'labelSmoothing', type: 'float'},
      {name: 'zLoss', type: 'float'},
      {name: 'maxSup', type: 'float'},
    ];
    const meanDot = mean === 'columns' ? 'rowDot += e * getColSumC(0, k);' : '';
    let rowMean = '0.0';
    if (mean === 'sumZ') {
      rowMean = 'getState(i, 1, 1) / float(vocab)';
    } else if (mean === 'columns') {
      rowMean = `(rowDot${hasBias ? ' + getBiasSum(0, 0)' : ''}) / float(vocab)`;
    }
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${AS_INT_SNIPPET}

      void main() {
        int i = getOutputCoords();
        int y = sluiceAsInt(getLabels(i));
        if (y == ignoreIndex) {
          setOutput(0.0);
          return;
        }
        if (y < 0 || y >= vocab) {
          setOutput(NAN);  // only reachable when the op could not check labels
          return;
        }
        float m = getState(i, 0, 0);
        float lse = m + log(getState(i, 0, 1));
        float x = 0.0;
        float rowDot = 0.0;
        for (int k = 0; k < ${dim}; k++) {
          float e = getE(i, k);
          x += e * getC(y, k);
          ${meanDot}
        }
        ${hasBias ? 'x += getBias(y);' : ''}
        float zy = sluiceSoftcap(x, softcap);
        float rowMean = ${rowMean};
        float loss = lse - (1.0 - labelSmoothing) * zy - labelSmoothing * rowMean;
        loss += zLoss * lse * lse + maxSup * (m - rowMean);
        setOutput(loss);
      }
    `;
  }
}
