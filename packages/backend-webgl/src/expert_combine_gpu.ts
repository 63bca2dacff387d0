/**
 * out[t, j] = Σ gates[t, s] · y[r, j] over the rows r of token t (pair
 * t·k + s = sourceRows[r]). The rows are grouped by token on the host (a
 * counting sort of sourceRows, which the op's validation has read already):
 * token t owns entries [tokenStarts[t], tokenStarts[t + 1]) of `rowOf` (the
 * row) and `slotOf` (its slot s). A dropped pair has no entry and adds
 * exactly 0; repeated pairs add up, as the composite's segment sum does.
 *
 * Packed throughout: y comes packed from the grouped matmul, so it is read
 * as is (a texel gives the two columns of a row), and each output texel
 * covers tokens t, t + 1 × columns j, j + 1. The per-token loop has the
 * constant bound M and breaks at the token's end (at most k entries after a
 * dispatch).
 */
import type {GPGPUProgram} from './internal';
import {AS_INT_SNIPPET, PACKED_PICK_SNIPPET} from './glsl_util';

export class ExpertCombineProgram implements GPGPUProgram {
  variableNames = ['y', 'gates', 'tokenStarts', 'rowOf', 'slotOf'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;

  constructor(n: number, h: number, m: number) {
    this.outputShape = [n, h];
    // Packed rank-1 inputs hold entries 2i, 2i + 1 in a texel's x, y.
    const intAt = (name: string) => `
      int ${name}At(int i) {
        vec4 t = get${name.charAt(0).toUpperCase()}${name.slice(1)}(i);
        return sluiceAsInt((i & 1) == 1 ? t.y : t.x);
      }`;
    this.userCode = `
      ${AS_INT_SNIPPET}
      ${PACKED_PICK_SNIPPET}
      ${intAt('tokenStarts')}
      ${intAt('rowOf')}
      ${intAt('slotOf')}

      // Columns j, j + 1 of token t's output.
      vec2 tokenRow(int t, int j) {
        vec2 acc = vec2(0.0);
        if (t >= ${n}) {
          return acc;
        }
        int start = tokenStartsAt(t);
        int end = tokenStartsAt(t + 1);
        for (int i = 0; i < ${m}; i++) {
          int at = start + i;
          if (at >= end) {
            break;
          }
          int r = rowOfAt(at);
          int s = slotOfAt(at);
          vec4 yt = getY(r, j);
          float g = sluicePick(getGates(t, s), t, s);
          acc += g * ((r & 1) == 1 ? yt.zw : yt.xy);
        }
        return acc;
      }

      void main() {
        ivec2 tc = getOutputCoords();
        setOutput(vec4(tokenRow(tc.x, tc.y), tokenRow(tc.x + 1, tc.y)));
      }
    `;
  }
}
