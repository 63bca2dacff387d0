/**
 * Backward of the fused cross-entropy, per vocabulary chunk. dL/dx from the
 * chunk's recomputed pre-cap logits x = e·cᵀ + b:
 *   dL/dz = s·softmax(z) + u + l·[j = label] + m·[j = argmax]
 *   dL/dx = dL/dz · (1 − (z / cap)²)   (softcap only)
 * with, per token, g = dLosses (0 for ignored tokens), s = g(1 + 2·zLoss·lse)
 * + dLse, u = −g(ls + maxSup)/V, l = −g(1 − ls), m = g·maxSup. The one-hot
 * terms fall on the chunk's columns that hold the label or the argmax, so no
 * separate sparse pass is needed. Every option is a uniform.
 *
 * `LceGradLogitsProgram` is packed in and out: it reads tfjs's packed matmul
 * output as is and its output feeds the next two matmuls as is, so no
 * [N, chunk] pack or unpack copy exists. Its per-token inputs come packed in
 * one [N, 2, 4] tensor from `LceRowInfoProgram`, run once per call.
 */
import type {GPGPUProgram, UniformType} from './internal';
import {AS_INT_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';

/**
 * Per token, packed [N, 2, 4]: texel (i, 0, 0) = (lse, s, g, label) and
 * texel (i, 0, 2) = (argmax, 0, 0, 0). g is 0 for ignored tokens, which
 * zeroes every term of their gradient, and NaN for a kept label outside [0, V).
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
  ];

  constructor(tokens: number) {
    this.outputShape = [tokens, 2, 4];
    this.userCode = `
      ${AS_INT_SNIPPET}
      void main() {
        ivec3 coords = getOutputCoords();
        int i = coords.x;
        if (coords.z >= 2) {
          setOutput(vec4(getArgmax(i), 0.0, 0.0, 0.0));
          return;
        }
        float label = getLabels(i);
        // where, not a product: an ignored token's dLosses may be anything. A
        // kept label outside [0, V) (one the op could not check) makes the row NaN.
        int y = sluiceAsInt(label);
        float g = y == ignoreIndex ? 0.0 : (y < 0 || y >= vocab ? NAN : getDLosses(i));
        float lse = getLse(i);
        setOutput(vec4(lse, g * (1.0 + 2.0 * zLoss * lse) + getDLse(i), g, label));
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
  customUniforms = [
    {name: 'vocabStart', type: 'int' as UniformType},
    {name: 'vocab', type: 'int' as UniformType},
    {name: 'softcap', type: 'float' as UniformType},
    {name: 'labelSmoothing', type: 'float' as UniformType},
    {name: 'maxSup', type: 'float' as UniformType},
  ];

  constructor(tokens: number, chunk: number) {
    this.outputShape = [tokens, chunk];
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${AS_INT_SNIPPET}

      // dL/dx of token i at chunk column c from its pre-cap logit x.
      float gradAt(float x, int c, vec4 info, int y, int at) {
        float lse = info.x, s = info.y, g = info.z;
        float z = sluiceSoftcap(x, softcap);
        float dz = s * exp(z - lse) - g * (labelSmoothing + maxSup) / float(vocab);
        int col = vocabStart + c;
        if (col == y) {
          dz -= g * (1.0 - labelSmoothing);
        }
        if (col == at) {
          dz += g * maxSup;
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
        int y = sluiceAsInt(info.w);
        int at = sluiceAsInt(getRowInfo(row, 0, 2).x);
        float second = c + 1 < ${chunk} ? gradAt(x.y, c + 1, info, y, at) : 0.0;
        return vec2(gradAt(x.x, c, info, y, at), second);
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
