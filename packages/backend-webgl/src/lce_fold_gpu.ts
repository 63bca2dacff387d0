/**
 * Folds one vocabulary chunk of logits into the per-token running state of
 * the fused cross-entropy forward: (max, Σ exp(z − max), first argmax, Σ z).
 *
 * Packed in and out, so it reads tfjs's packed matmul output directly (no
 * unpack pass over the [N, chunk] logits) and writes one texel per token:
 * the state has shape [N, 2, 2], whose packed texel (n, 0..1, 0..1) holds
 * the four fields as x, y, z, w. One pass over the chunk per token, with an
 * online log-sum-exp: a new maximum rescales the running sum once. Strictly
 * greater replaces the argmax, and the running max carries over from the
 * earlier chunks, so ties keep the lowest vocabulary index. Σ z is only used
 * with a softcap (the row mean is then accumulated); it costs one add.
 */
import type {GPGPUProgram, UniformType} from './internal';
import {SOFTCAP_SNIPPET} from './glsl_util';

/** Lowest finite float32: exp(it − z) underflows to 0 for any finite z. */
const NEG_INIT = '-3.4028234e38';

export class LceFoldProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [
    {name: 'vocabStart', type: 'int' as UniformType},
    {name: 'softcap', type: 'float' as UniformType},
  ];

  /** `first`: no earlier state (compile-time: the input list differs). */
  constructor(tokens: number, chunk: number, first: boolean) {
    this.variableNames = first ? ['logits'] : ['logits', 'state'];
    this.outputShape = [tokens, 2, 2];
    const init = first ? `float m = ${NEG_INIT}; float s = 0.0; float a = 0.0; float sz = 0.0;` : `
        vec4 st = getState(row, 0, 0);
        float m = st.x; float s = st.y; float a = st.z; float sz = st.w;`;
    // The chunk width is part of the logits' shape, which tfjs bakes into the
    // shader anyway, so using it as a constant adds no program variant.
    this.userCode = `
      ${SOFTCAP_SNIPPET}

      void main() {
        int row = getOutputCoords().x;
        bool oddRow = (row & 1) == 1;
        ${init}
        for (int j = 0; j < ${chunk}; j += 2) {
          vec4 t = getLogits(row, j);
          vec2 pair = oddRow ? t.zw : t.xy;
          for (int k = 0; k < 2; k++) {
            if (j + k >= ${chunk}) {
              break;
            }
            float z = sluiceSoftcap(k == 0 ? pair.x : pair.y, softcap);
            sz += z;
            if (z > m) {
              s = s * exp(m - z) + 1.0;
              m = z;
              a = float(vocabStart + j + k);
            } else {
              s += exp(z - m);  // NaN logits land here and make the sum NaN
            }
          }
        }
        setOutput(vec4(m, s, a, sz));
      }
    `;
  }
}
