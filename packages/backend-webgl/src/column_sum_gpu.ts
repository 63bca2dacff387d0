/**
 * Column sums of a [R, C] matrix, BLOCK rows per output texel: one pass
 * gives [ceil(R / BLOCK), C]; `columnSums` repeats it down to [1, C]. Used
 * for the classifier's column sums (the row mean without softcap), the sum of
 * the bias, and dBias (column sums of each dL/dx chunk). A tree of short
 * loops keeps every fragment's work small and the float32 error at
 * O(log R) roundings instead of one R-long serial sum.
 */
import type {GPGPUProgram, MathBackendWebGL} from './internal';
import type {TensorInfo} from '@tensorflow/tfjs-core';

const BLOCK = 64;

export class ColumnSumProgram implements GPGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  userCode: string;

  constructor(rows: number, cols: number) {
    this.outputShape = [Math.ceil(rows / BLOCK), cols];
    this.userCode = `
      void main() {
        ivec2 rc = getOutputCoords();
        int r0 = rc.x * ${BLOCK};
        float acc = 0.0;
        for (int k = 0; k < ${BLOCK}; k++) {
          if (r0 + k >= ${rows}) {
            break;
          }
          acc += getX(r0 + k, rc.y);
        }
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
    const next = backend.runWebGLProgram(new ColumnSumProgram(rows, cols), [current], 'float32');
    if (current !== x) backend.disposeIntermediateTensorInfo(current);
    current = next;
  } while (current.shape[0] > 1);
  return current;
}
