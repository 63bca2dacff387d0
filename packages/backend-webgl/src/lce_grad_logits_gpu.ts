/**
 * dL/dx for one vocabulary chunk of the fused cross-entropy backward, from
 * the chunk's recomputed pre-cap logits x = e·cᵀ + b:
 *   dL/dz = s·softmax(z) + u + l·[j = label] + m·[j = argmax]
 *   dL/dx = dL/dz · (1 − (z / cap)²)   (softcap only)
 * with, per token, g = dLosses (0 for ignored tokens), s = g(1 + 2·zLoss·lse)
 * + dLse, u = −g(ls + maxSup)/V, l = −g(1 − ls), m = g·maxSup. The one-hot
 * terms fall on the chunk's columns that hold the label or the argmax, so no
 * separate sparse pass is needed. Every option is a uniform.
 */
import type {GPGPUProgram, UniformType} from './internal';
import {AS_INT_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';

export class LceGradLogitsProgram implements GPGPUProgram {
  variableNames = ['logits', 'lse', 'dLosses', 'dLse', 'labels', 'argmax'];
  outputShape: number[];
  userCode: string;
  customUniforms = [
    {name: 'vocabStart', type: 'int' as UniformType},
    {name: 'vocab', type: 'int' as UniformType},
    {name: 'ignoreIndex', type: 'int' as UniformType},
    {name: 'softcap', type: 'float' as UniformType},
    {name: 'labelSmoothing', type: 'float' as UniformType},
    {name: 'zLoss', type: 'float' as UniformType},
    {name: 'maxSup', type: 'float' as UniformType},
  ];

  constructor(tokens: number, chunk: number) {
    this.outputShape = [tokens, chunk];
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${AS_INT_SNIPPET}

      void main() {
        ivec2 rc = getOutputCoords();
        int i = rc.x;
        int col = vocabStart + rc.y;
        int y = sluiceAsInt(getLabels(i));
        bool kept = y != ignoreIndex;
        // where, not a product: an ignored token's dLosses may be anything.
        float g = kept ? getDLosses(i) : 0.0;
        float lse = getLse(i);
        float z = sluiceSoftcap(getLogits(i, rc.y), softcap);
        float dz = (g * (1.0 + 2.0 * zLoss * lse) + getDLse(i)) * exp(z - lse);
        dz -= g * (labelSmoothing + maxSup) / float(vocab);
        if (kept && col == y) {
          dz -= g * (1.0 - labelSmoothing);
        }
        if (maxSup != 0.0 && col == sluiceAsInt(getArgmax(i))) {
          dz += g * maxSup;
        }
        if (softcap > 0.0) {
          float t = z / softcap;
          dz *= 1.0 - t * t;
        }
        setOutput(dz);
      }
    `;
  }
}
