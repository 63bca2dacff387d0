/**
 * Folds one vocabulary chunk of logits into the per-token running state of
 * the fused cross-entropy forward, over the unmasked classes U only (a masked
 * class, pre-cap logit −Inf from its bias, is skipped: it adds nothing to any
 * sum, and can be neither the max nor the argmax).
 *
 * `LceFoldProgram`: (max m, Σ exp(z − m), first argmax, Σ z). Packed in and
 * out, so it reads tfjs's packed matmul output directly (no unpack pass over
 * the [N, chunk] logits) and writes one texel per token: the state has shape
 * [N, 2, 2], whose packed texel (n, 0..1, 0..1) holds the four fields as x,
 * y, z, w. Strictly greater replaces the argmax, and the running max carries
 * over from the earlier chunks, so ties keep the lowest vocabulary index.
 *
 * `LceFoldExtrasProgram` (only for the entropy, or label smoothing with
 * classWeights): a second pass over the same chunk after the first, reading
 * the new max m from the state: (m used, Σ exp(z − m)·z, Σ w_c z_c, 0), the
 * first sum rescaled by exp(m_old − m) when the max moved. A separate program
 * because one fragment writes one texel: four more fields in the first
 * program would make it run twice per token.
 *
 * Float32 accumulation order (issue 18.6), per token: every sum is serial in
 * vocabulary order, column by column within a chunk and chunk after chunk
 * (online max/sum-exp: a new max rescales the running Σexp once); Σz and
 * Σ w z are plain running sums; no pairwise merging.
 */
import {chunkUniforms, MASK_SNIPPET, PACKED_PICK_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';
import type {GPGPUProgram} from './internal';

/** Lowest finite float32: exp(it − z) underflows to 0 for any finite z. */
const NEG_INIT = '-3.4028234e38';

/**
 * The loop over a packed chunk row, running `body` with z and its global column `col` for unmasked classes
 * (the names `texel`, `pair`, `x`, `j`, `k` are taken).
 */
function chunkLoop(chunk: number, body: string): string {
  return `
        bool oddRow = (row & 1) == 1;
        for (int j = 0; j < ${chunk}; j += 2) {
          vec4 texel = getLogits(row, j);
          vec2 pair = oddRow ? texel.zw : texel.xy;
          for (int k = 0; k < 2; k++) {
            if (j + k >= ${chunk}) {
              break;
            }
            float x = k == 0 ? pair.x : pair.y;
            if (sluiceMasked(x)) {
              continue;
            }
            float z = sluiceSoftcap(x, softcap);
            int col = vocabStart + j + k;
            ${body}
          }
        }`;
}

export class LceFoldProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = chunkUniforms();

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
      ${MASK_SNIPPET}

      void main() {
        int row = getOutputCoords().x;
        ${init}
        ${chunkLoop(chunk, `
            sz += z;
            if (z > m) {
              s = s * exp(m - z) + 1.0;
              m = z;
              a = float(col);
            } else {
              s += exp(z - m);  // NaN logits land here and make the sum NaN
            }`)}
        setOutput(vec4(m, s, a, sz));
      }
    `;
  }
}

export class LceFoldExtrasProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = chunkUniforms();

  /**
   * Inputs: logits, state (after this chunk's fold), the previous extras
   * unless `first`, and the packed [1, V] classWeights when `weighted`.
   * `entropy`: accumulate Σ exp(z − m)·z; `weighted`: Σ w z.
   */
  constructor(tokens: number, chunk: number, first: boolean, entropy: boolean, weighted: boolean) {
    this.variableNames = ['logits', 'state'];
    if (!first) this.variableNames.push('extras');
    if (weighted) this.variableNames.push('weights');
    this.outputShape = [tokens, 2, 2];
    const init = first ? 'float t = 0.0; float wz = 0.0;' : `
        vec4 ex = getExtras(row, 0, 0);
        float t = ex.y * exp(ex.x - m);  // the max moved from ex.x to m
        float wz = ex.z;`;
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${MASK_SNIPPET}
      ${PACKED_PICK_SNIPPET}

      void main() {
        int row = getOutputCoords().x;
        float m = getState(row, 0, 0).x;
        ${init}
        ${chunkLoop(chunk, `
            ${entropy ? 't += exp(z - m) * z;' : ''}
            ${weighted ? 'wz += sluicePick(getWeights(0, col), 0, col) * z;' : ''}`)}
        setOutput(vec4(m, t, wz, 0.0));
      }
    `;
  }
}
