/**
 * Column sums of a [R, C] matrix, BLOCK rows per output texel: one pass
 * gives [ceil(R / BLOCK), C]; `columnSums` repeats it down to [1, C]. Used
 * for the classifier's column sums (the row mean without softcap), the sum of
 * the bias, and dBias (column sums of each dL/dx chunk). A tree of short
 * loops keeps every fragment's work small and the float32 error at
 * O(log R) roundings instead of one R-long serial sum.
 *
 * The first pass reads its input packed when it already is (dL/dx comes
 * packed from its program), so no unpacked copy of it is made.
 */
import type {GPGPUProgram, MathBackendWebGL} from './internal';
import type {TensorInfo} from '@tensorflow/tfjs-core';

const BLOCK = 64;

export class ColumnSumProgram implements GPGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  userCode: string;
  packedInputs: boolean;

  constructor(rows: number, cols: number, packed: boolean) {
    this.outputShape = [Math.ceil(rows / BLOCK), cols];
    this.packedInputs = packed;
    // A packed texel holds rows r, r + 1 of columns c, c + 1 as x, y, z, w.
    const body = packed ? `
          for (int k = 0; k < ${BLOCK}; k += 2) {
            int r = r0 + k;
            if (r >= ${rows}) {
              break;
            }
            vec4 t = getX(r, col);
            vec2 pair = odd ? t.yw : t.xz;
            acc += pair.x + (r + 1 < ${rows} ? pair.y : 0.0);
          }` : `
          for (int k = 0; k < ${BLOCK}; k++) {
            if (r0 + k >= ${rows}) {
              break;
            }
            acc += getX(r0 + k, col);
          }`;
    this.userCode = `
      void main() {
        ivec2 rc = getOutputCoords();
        int r0 = rc.x * ${BLOCK};
        int col = rc.y;
        bool odd = (col & 1) == 1;
        float acc = 0.0;
        ${body}
        setOutput(acc);
      }
    `;
  }
}

/** [R, C] → [1, C]. `x` itself is never disposed; every intermediate pass is. */
export function columnSums(backend: MathBackendWebGL, x: TensorInfo): TensorInfo {
  let current = x;
  do {
    const [rows, cols] = current.shape;
    const packed = current === x && backend.texData.get(x.dataId).isPacked === true;
    const next = backend.runWebGLProgram(new ColumnSumProgram(rows, cols, packed), [current], 'float32');
    if (current !== x) backend.disposeIntermediateTensorInfo(current);
    current = next;
  } while (current.shape[0] > 1);
  return current;
}
