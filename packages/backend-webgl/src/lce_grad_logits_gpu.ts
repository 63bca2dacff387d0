/**
 * Backward of the fused cross-entropy, per vocabulary chunk. dL/dx from the
 * chunk's recomputed pre-cap logits x = e·c + b, for an unmasked class c:
 *   dL/dz_c = P·p_c − Y·[c = label] + A·[c = argmax] − U1·w_c − U2
 *   dL/dx_c = dL/dz_c · (1 − (z_c / cap)²)   (softcap only)
 * and exactly 0 for a masked class (x = −Inf: the sentinel test of
 * glsl_util.ts, on the pre-cap x). With g = dLosses (0 for ignored tokens,
 * NaN for a kept label outside [0, V)), h = dLse, w = classWeights, V_u and
 * S = Σ_{c∈U} w_c, this is the contract's
 *   g·[(1−ls)·w_y·(p − δ_y) + (ls/V_u)·(S·p − w_c) + 2·zLoss·w_y·lse·p
 *      + maxSup·w_y·(δ_argmax − 1/V_u)] + h·p
 * with P = g·((1−ls)·w_y + ls·S/V_u + 2·zLoss·w_y·lse) + h, Y = g·(1−ls)·w_y,
 * A = g·maxSup·w_y, U1 = g·ls/V_u, U2 = g·maxSup·w_y/V_u, computed once per
 * token by `LceRowInfoProgram`. The one-hot terms fall on the chunk's columns
 * that hold the label or the argmax, so no separate sparse pass is needed.
 *
 * `LceGradLogitsProgram` is packed in and out: it reads tfjs's packed matmul
 * output as is and its output feeds the next two matmuls as is, so no
 * [N, chunk] pack or unpack copy exists. Its per-token inputs come packed in
 * one [N, 2, 4] tensor from `LceRowInfoProgram`, run once per call.
 *
 * Float32 accumulation order: no reduction here; each dL/dx entry is one
 * expression evaluated left to right.
 */
import type {GPGPUProgram, UniformType} from './internal';
import {AS_INT_SNIPPET, chunkUniforms, MASK_SNIPPET, PACKED_PICK_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';

/**
 * Per token, packed [N, 2, 4]: texel (i, 0, 0) = (lse, P, Y, label) and
 * texel (i, 0, 2) = (argmax, A, U1, U2). g = 0 for ignored tokens zeroes all
 * but the h·p term; g = NaN for a kept label outside [0, V) makes the row NaN.
 * Inputs: lse, dLosses, dLse, labels, argmax, then weights [V] and the class
 * stats [1, 2] when the variant has them.
 */
export class LceRowInfoProgram implements GPGPUProgram {
  variableNames = ['lse', 'dLosses', 'dLse', 'labels', 'argmax'];
  outputShape: number[];
  userCode: string;
  packedOutput = true;
  customUniforms = [
    {name: 'ignoreIndex', type: 'int' as UniformType},
    {name: 'zLoss', type: 'float' as UniformType},
    {name: 'vocab', type: 'int' as UniformType},
    {name: 'labelSmoothing', type: 'float' as UniformType},
    {name: 'maxSup', type: 'float' as UniformType},
  ];

  constructor(tokens: number, hasWeights: boolean, hasStats: boolean) {
    this.outputShape = [tokens, 2, 4];
    if (hasWeights) this.variableNames.push('weights');
    if (hasStats) this.variableNames.push('stats');
    this.userCode = `
      ${AS_INT_SNIPPET}
      void main() {
        ivec3 coords = getOutputCoords();
        int i = coords.x;
        float label = getLabels(i);
        // where, not a product: an ignored token's dLosses may be anything. A
        // kept label outside [0, V) (one the op could not check) makes the row NaN.
        int y = sluiceAsInt(label);
        bool inRange = y >= 0 && y < vocab;
        float g = y == ignoreIndex ? 0.0 : (inRange ? getDLosses(i) : NAN);
        float wy = ${hasWeights ? 'inRange ? getWeights(y) : 1.0' : '1.0'};
        float vu = ${hasStats ? 'getStats(0, 0)' : 'float(vocab)'};
        float sumW = ${hasStats ? 'getStats(0, 1)' : 'float(vocab)'};
        float ls = labelSmoothing;
        if (coords.z >= 2) {
          setOutput(vec4(getArgmax(i), g * maxSup * wy, g * ls / vu, g * maxSup * wy / vu));
          return;
        }
        float lse = getLse(i);
        float p = g * ((1.0 - ls) * wy + ls * sumW / vu + 2.0 * zLoss * wy * lse) + getDLse(i);
        setOutput(vec4(lse, p, g * (1.0 - ls) * wy, label));
      }
    `;
  }
}

export class LceGradLogitsProgram implements GPGPUProgram {
  variableNames = ['logits', 'rowInfo'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = chunkUniforms();

  /** `weighted`: the packed [1, V] classWeights are an input (read for the U1·w_c term). */
  constructor(tokens: number, chunk: number, weighted: boolean) {
    this.outputShape = [tokens, chunk];
    if (weighted) this.variableNames.push('weights');
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${AS_INT_SNIPPET}
      ${MASK_SNIPPET}
      ${PACKED_PICK_SNIPPET}

      // dL/dx of a token at chunk column c from its pre-cap logit x.
      float gradAt(float x, int c, vec4 info, vec4 more, int y, int at) {
        if (sluiceMasked(x)) {
          return 0.0;
        }
        int col = vocabStart + c;
        float z = sluiceSoftcap(x, softcap);
        float w = ${weighted ? 'sluicePick(getWeights(0, col), 0, col)' : '1.0'};
        float dz = info.y * exp(z - info.x) - more.z * w - more.w;
        if (col == y) {
          dz -= info.z;
        }
        if (col == at) {
          dz += more.y;
        }
        if (softcap > 0.0) {
          float t = z / softcap;
          dz *= 1.0 - t * t;
        }
        return dz;
      }

      // Texel (r, c) holds rows r, r + 1 and columns c, c + 1 as x, y, z, w;
      // lanes past the matrix edge are written as 0.
      vec2 rowPair(int row, int c, vec2 x) {
        vec4 info = getRowInfo(row, 0, 0);
        vec4 more = getRowInfo(row, 0, 2);
        int y = sluiceAsInt(info.w);
        int at = sluiceAsInt(more.x);
        float second = c + 1 < ${chunk} ? gradAt(x.y, c + 1, info, more, y, at) : 0.0;
        return vec2(gradAt(x.x, c, info, more, y, at), second);
      }

      void main() {
        ivec2 rc = getOutputCoords();
        vec4 x = getLogits(rc.x, rc.y);
        vec2 top = rowPair(rc.x, rc.y, x.xy);
        vec2 bottom = rc.x + 1 < ${tokens} ? rowPair(rc.x + 1, rc.y, x.zw) : vec2(0.0);
        setOutput(vec4(top, bottom));
      }
    `;
  }
}
