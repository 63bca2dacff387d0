/**
 * out[r, :] = x[rows[r], :]: the data movement of expert dispatch, driven by
 * a row map (int32, exact in a float texel below 2^24) computed on the host;
 * rows[r] = -1 (an empty slot) gives zeros.
 * The output is packed (rows r, r + 1 × columns c, c + 1 per texel), which
 * is what the grouped matmul that reads it next wants, so no pack pass runs
 * in between; the inputs are read unpacked, one fetch per value, so the rows
 * are exact copies.
 */
import type {GPGPUProgram} from './internal';
import {AS_INT_SNIPPET} from './glsl_util';

export class GatherRowsProgram implements GPGPUProgram {
  variableNames = ['x', 'rows'];
  outputShape: number[];
  userCode: string;
  packedInputs = false;
  packedOutput = true;

  constructor(rows: number, cols: number) {
    this.outputShape = [rows, cols];
    this.userCode = `
      ${AS_INT_SNIPPET}
      vec2 rowPair(int r, int c) {
        if (r >= ${rows}) {
          return vec2(0.0);
        }
        int src = sluiceAsInt(getRows(r));
        if (src < 0) {
          return vec2(0.0);
        }
        return vec2(getX(src, c), c + 1 < ${cols} ? getX(src, c + 1) : 0.0);
      }

      void main() {
        ivec2 rc = getOutputCoords();
        setOutput(vec4(rowPair(rc.x, rc.y), rowPair(rc.x + 1, rc.y)));
      }
    `;
  }
}
