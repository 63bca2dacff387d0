/**
 * Grouped matmul over expert segments (rows of expert e are
 * [offsets[e], offsets[e + 1])), as two packed programs in the manner of
 * tfjs's MatMulPackedProgram: every texel holds a 2×2 block, and one loop
 * step multiplies a 2×2 block of each operand (two fetches for eight
 * multiply-adds, against two per multiply-add unpacked).
 *
 * - `GroupedMatMulProgram`: y[r, j] = Σ_q x[r, q] · W[e(r), q, j] (W[e, j, q]
 *   with transposed weights). A texel finds the experts of its two rows by a
 *   binary search over the offsets (⌈log2 E⌉ + 1 fetches each); when a
 *   segment boundary falls between them (at most E − 1 texel rows), the
 *   second row is recomputed with its own expert. The gradient w.r.t. x is
 *   this program on dy with the weights read transposed.
 * - `GroupedWeightGradProgram`: dW[e, q, j] = Σ over the rows r of expert e
 *   of x[r, q] · dy[r, j], 0 for an empty expert. The loop walks row pairs
 *   with the constant bound ⌈M / 2⌉ + 1 and breaks at the segment's end;
 *   rows of the pair outside the segment (odd boundaries) are zeroed.
 *
 * The offsets are an input texture (packed: entries 2i, 2i + 1 in a texel's
 * x, y), never interpolated into the GLSL, so one compiled program serves
 * every routing of the same shapes.
 */
import type {GPGPUProgram} from './internal';
import {AS_INT_SNIPPET} from './glsl_util';

const OFFSET_SNIPPET = `
  ${AS_INT_SNIPPET}
  int offsetAt(int i) {
    vec4 t = getOffsets(i);
    return sluiceAsInt((i & 1) == 1 ? t.y : t.x);
  }
`;

export class GroupedMatMulProgram implements GPGPUProgram {
  variableNames = ['x', 'w', 'offsets'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;

  /** x [M, K]; weights [E, K, H], or [E, H, K] when `transposeWeights`. */
  constructor(m: number, kDim: number, h: number, numExperts: number, transposeWeights: boolean) {
    this.outputShape = [m, h];
    const steps = Math.ceil(Math.log2(Math.max(2, numExperts))) + 1;
    // b must hold W[q, col], W[q, col + 1], W[q + 1, col], W[q + 1, col + 1]; the
    // transposed texel holds W[col, q], W[col, q + 1], W[col + 1, q], ...: b = t.xzyw.
    const [sample, b0, b1] = transposeWeights ? ['getW(e, col, q)', 'b.xzxz', 'b.ywyw'] :
                                                ['getW(e, q, col)', 'b.xyxy', 'b.zwzw'];
    this.userCode = `
      ${OFFSET_SNIPPET}
      // The last expert e whose segment starts at or before row: with offsets[0] = 0 and
      // offsets[E] = M > row, the one segment holding row (empty ones share its start).
      int expertOf(int row) {
        int lo = 0;
        int hi = ${numExperts - 1};
        for (int i = 0; i < ${steps}; i++) {
          if (lo >= hi) {
            break;
          }
          int mid = (lo + hi + 1) / 2;
          if (offsetAt(mid) <= row) {
            lo = mid;
          } else {
            hi = mid - 1;
          }
        }
        return lo;
      }

      // Rows row, row + 1 × columns col, col + 1 of x · W_e.
      vec4 block(int e, int row, int col) {
        vec4 acc = vec4(0.0);
        for (int i = 0; i < ${Math.ceil(kDim / 2)}; i++) {
          int q = i * 2;
          vec4 a = getX(row, q);
          vec4 b = ${sample};
          acc += a.xxzz * ${b0};
          acc += a.yyww * ${b1};
        }
        return acc;
      }

      void main() {
        ivec2 rc = getOutputCoords();
        int e0 = expertOf(rc.x);
        int e1 = rc.x + 1 < ${m} ? expertOf(rc.x + 1) : e0;
        vec4 result = block(e0, rc.x, rc.y);
        if (e1 != e0) {
          result.zw = block(e1, rc.x, rc.y).zw;
        }
        setOutput(result);
      }
    `;
  }
}

export class GroupedWeightGradProgram implements GPGPUProgram {
  variableNames = ['x', 'dy', 'offsets'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;

  /** x [M, K], dy [M, H] → dW [E, K, H]. */
  constructor(m: number, kDim: number, h: number, numExperts: number) {
    this.outputShape = [numExperts, kDim, h];
    this.userCode = `
      ${OFFSET_SNIPPET}
      void main() {
        ivec3 c = getOutputCoords();
        int start = offsetAt(c.x);
        int end = offsetAt(c.x + 1);
        int first = start - (start & 1);
        vec4 acc = vec4(0.0);
        for (int i = 0; i < ${Math.ceil(m / 2) + 1}; i++) {
          int r = first + i * 2;
          if (r >= end) {
            break;
          }
          vec4 a = getX(r, c.y);   // x[r, q], x[r, q + 1], x[r + 1, q], x[r + 1, q + 1]
          vec4 d = getDy(r, c.z);  // dy[r, j], dy[r, j + 1], dy[r + 1, j], dy[r + 1, j + 1]
          if (r < start) {
            a.xy = vec2(0.0);
            d.xy = vec2(0.0);
          }
          if (r + 1 >= end) {
            a.zw = vec2(0.0);
            d.zw = vec2(0.0);
          }
          acc += a.xxyy * d.xyxy;
          acc += a.zzww * d.zwzw;
        }
        setOutput(acc);
      }
    `;
  }
}
