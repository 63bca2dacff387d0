/**
 * Top-1 suppression in one pass over each row: the running max, its first
 * index (strictly greater replaces, so ties keep the lowest index) and
 * gap = Σ (max − z) so far, which a new max m' > m raises by (m' − m) per
 * element already seen. Its terms are all >= 0, so logits sharing a large
 * offset do not cancel as Σz/V − max would in float32. A NaN makes its row's
 * penalty NaN.
 *
 * tfjs programs write one texture, so the output is packed [N, 2]: a texel
 * holds (penalty, argmax) of rows 2r and 2r + 1, each row read once; two
 * O(N) `PickColumnProgram`s split it into penalty [N] and argmax int32 [N].
 */
import type {GPGPUProgram, UniformType} from './internal';
import {PACKED_PICK_SNIPPET} from './glsl_util';

export class TopOneSuppressionProgram implements GPGPUProgram {
  variableNames = ['logits'];
  outputShape: number[];
  userCode: string;
  packedInputs = false;
  packedOutput = true;
  customUniforms = [
    {name: 'rowLength', type: 'int' as UniformType},
    {name: 'alpha', type: 'float' as UniformType},
  ];

  constructor(rows: number) {
    this.outputShape = [rows, 2];
    this.userCode = `
      vec2 rowStats(int row) {
        float m = getLogits(row, 0);
        int at = 0;
        float gap = 0.0;
        bool hasNaN = isnan(m);
        for (int j = 1; j < rowLength; j++) {
          float z = getLogits(row, j);
          if (isnan(z)) {
            hasNaN = true;
          } else if (z > m) {
            gap += (z - m) * float(j);
            m = z;
            at = j;
          } else {
            gap += m - z;
          }
        }
        return vec2(hasNaN ? NAN : alpha * gap / float(rowLength), float(at));
      }

      void main() {
        int row = getOutputCoords().x;
        vec2 second = row + 1 < ${rows} ? rowStats(row + 1) : vec2(0.0);
        setOutput(vec4(rowStats(row), second));
      }
    `;
  }
}

/** Column `col` of a packed [N, 2] tensor as an unpacked [N]. */
export class PickColumnProgram implements GPGPUProgram {
  variableNames = ['packed'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;

  constructor(rows: number, col: 0|1) {
    this.outputShape = [rows];
    this.userCode = `
      ${PACKED_PICK_SNIPPET}
      void main() {
        int i = getOutputCoords();
        setOutput(sluicePick(getPacked(i, ${col}), i, ${col}));
      }
    `;
  }
}
