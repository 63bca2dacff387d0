/**
 * Top-1 suppression, one output texel per row: a first pass over the row
 * for the max and its first index (strictly greater replaces, so ties keep
 * the lowest index), a second for Σ (max − z), whose terms are all >= 0 so a
 * shared offset cancels before the sum. A tfjs program writes one texture,
 * so the kernel runs it twice (penalty, then argmax). A NaN makes its row's
 * penalty NaN.
 */
import type {GPGPUProgram, UniformType} from './internal';

export type TopOneOutput = 'penalty'|'argmax';

export class TopOneSuppressionProgram implements GPGPUProgram {
  variableNames = ['logits'];
  outputShape: number[];
  userCode: string;
  customUniforms = [
    {name: 'rowLength', type: 'int' as UniformType},
    {name: 'alpha', type: 'float' as UniformType},
  ];

  constructor(rows: number, output: TopOneOutput) {
    this.outputShape = [rows];
    const write = output === 'penalty' ?
        'setOutput(hasNaN ? NAN : alpha * gap / float(rowLength));' :
        'setOutput(float(at));';
    this.userCode = `
      void main() {
        int row = getOutputCoords();
        float m = getLogits(row, 0);
        int at = 0;
        bool hasNaN = isnan(m);
        for (int j = 1; j < rowLength; j++) {
          float z = getLogits(row, j);
          if (isnan(z)) {
            hasNaN = true;
          } else if (z > m) {
            m = z;
            at = j;
          }
        }
        float gap = 0.0;
        for (int j = 0; j < rowLength; j++) {
          gap += m - getLogits(row, j);
        }
        ${write}
      }
    `;
  }
}
