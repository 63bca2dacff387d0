/**
 * Folds one vocabulary chunk of logits into the per-token running state of
 * the fused cross-entropy forward, over the unmasked classes U only (a masked
 * class, pre-cap logit −Inf from its bias, is skipped: it adds nothing to any
 * sum, and can be neither the max nor the argmax).
 *
 * `LceFoldProgram`: (max m, Σ exp(z − m), first argmax, Σ z), or with Q =
 * Σ exp(z − m)·(z − m) in place of Σ z when only the entropy needs a fourth
 * field (no smoothing, no maxSup: then no second pass). Packed in and
 * out, so it reads tfjs's packed matmul output directly (no unpack pass over
 * the [N, chunk] logits) and writes one texel per token: the state has shape
 * [N, 2, 2], whose packed texel (n, 0..1, 0..1) holds the four fields as x,
 * y, z, w. Strictly greater replaces the argmax, and the running max carries
 * over from the earlier chunks, so ties keep the lowest vocabulary index.
 *
 * `LceFoldExtrasProgram` (only for label smoothing with classWeights, or the
 * entropy beside smoothing or maxSup, which hold Σ z in the state): a second pass over the same chunk after the first, reading
 * the new max m from the state: (m used, Q = Σ exp(z − m)·(z − m), Σ w_c z_c,
 * s = Σ exp(z − m)). Q is taken relative to the running max, not as
 * Σ exp(z − m)·z: the entropy is log s − Q / s, and lse − Σ p z with absolute
 * logits would cancel catastrophically under a large shared offset
 * (z ≈ 1e4 + O(1)). When the max moves from m to m', Q' = e^{m − m'}·(Q +
 * s·(m − m')) and s' = e^{m − m'}·s. The extras keep their own s (not the
 * state's), so Q and s always cover the same classes. A separate program
 * because one fragment writes one texel: four more fields in the first
 * program would make it run twice per token.
 *
 * `LceLabelLogitProgram`: the label's pre-cap logit x_y, taken from the
 * chunk that holds it, so the loss needs neither the embeddings nor the
 * classifier (reading those unpacked would make tfjs unpack a packed [V, D]
 * classifier whole on every call). Packed [N, 2]: per token (label, x_y), two
 * tokens per texel; one texel read per token and chunk.
 *
 * Float32 accumulation order (issue 18.6), per token: every sum is serial in
 * vocabulary order, column by column within a chunk and chunk after chunk
 * (online max/sum-exp: a new max rescales the running Σexp, and Q, once);
 * Σz and Σ w z are plain running sums; no pairwise merging.
 */
import {AS_INT_SNIPPET, chunkUniforms, MASK_SNIPPET, PACKED_PICK_SNIPPET, SOFTCAP_SNIPPET} from './glsl_util';
import type {GPGPUProgram, UniformType} from './internal';

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

  /**
   * `first`: no earlier state (compile-time: the input list differs).
   * `fourth`: what the state's fourth field accumulates: Σz (label smoothing,
   * maxSup), or, for the entropy when no Σz is needed, Q = Σ exp(z − m)·(z − m)
   * relative to the running max (rescaled with Σexp when the max moves), so
   * the entropy then costs no second pass over the chunk.
   */
  constructor(tokens: number, chunk: number, first: boolean, fourth: 'sumZ'|'entropy' = 'sumZ') {
    this.variableNames = first ? ['logits'] : ['logits', 'state'];
    this.outputShape = [tokens, 2, 2];
    const init = first ? `float m = ${NEG_INIT}; float s = 0.0; float a = 0.0; float w = 0.0;` : `
        vec4 st = getState(row, 0, 0);
        float m = st.x; float s = st.y; float a = st.z; float w = st.w;`;
    // Σz: every unmasked z. Q: a new max m' rescales Q to e^(m − m')·(Q + s·(m − m'))
    // (the new max itself adds e^0·0); any other z adds e^(z − m)·(z − m).
    const sumZ = fourth === 'sumZ';
    const body = `
            ${sumZ ? 'w += z;' : ''}
            if (z > m) {
              float shift = m - z;
              float scale = exp(shift);
              ${sumZ ? '' : 'if (s > 0.0) { w = scale * (w + s * shift); }'}
              s = s * scale + 1.0;
              m = z;
              a = float(col);
            } else {
              float d = z - m;
              float e = exp(d);
              s += e;  // NaN logits land here and make the sums NaN
              ${sumZ ? '' : 'w += e * d;'}
            }`;
    // The chunk width is part of the logits' shape, which tfjs bakes into the
    // shader anyway, so using it as a constant adds no program variant.
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${MASK_SNIPPET}

      void main() {
        int row = getOutputCoords().x;
        ${init}
        ${chunkLoop(chunk, body)}
        setOutput(vec4(m, s, a, w));
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
   * `entropy`: accumulate Q and s; `weighted`: Σ w z.
   */
  constructor(tokens: number, chunk: number, first: boolean, entropy: boolean, weighted: boolean) {
    this.variableNames = ['logits', 'state'];
    if (!first) this.variableNames.push('extras');
    if (weighted) this.variableNames.push('weights');
    this.outputShape = [tokens, 2, 2];
    let init = 'float q = 0.0; float s = 0.0; float wz = 0.0;';
    if (!first) {
      init = `
        vec4 ex = getExtras(row, 0, 0);
        float wz = ex.z;
        float q = 0.0;
        float s = 0.0;`;
      if (entropy) {
        // The max moved from ex.x to m (a no-op when it stayed); nothing folded yet: Q = s = 0.
        init += `
        if (ex.w > 0.0) {
          float shift = ex.x - m;
          float scale = exp(shift);
          q = scale * (ex.y + ex.w * shift);
          s = scale * ex.w;
        }`;
      }
    }
    this.userCode = `
      ${SOFTCAP_SNIPPET}
      ${MASK_SNIPPET}
      ${PACKED_PICK_SNIPPET}

      void main() {
        int row = getOutputCoords().x;
        float m = getState(row, 0, 0).x;
        ${init}
        ${chunkLoop(chunk, `
            ${entropy ? 'float d = z - m; float e = exp(d); s += e; q += e * d;' : ''}
            ${weighted ? 'wz += sluicePick(getWeights(0, col), 0, col) * z;' : ''}`)}
        setOutput(vec4(m, q, wz, s));
      }
    `;
  }
}

export class LceLabelLogitProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [{name: 'vocabStart', type: 'int' as UniformType}];

  /**
   * Inputs: logits and, when `first`, the labels as [N, 1] (the labels then
   * ride along in the output), else the previous output.
   */
  constructor(tokens: number, chunk: number, first: boolean) {
    this.variableNames = ['logits', first ? 'labels' : 'prev'];
    this.outputShape = [tokens, 2];
    const prev = first ? 'vec4 l = getLabels(row, 0); vec4 prev = vec4(l.x, 0.0, l.z, 0.0);' :
                         'vec4 prev = getPrev(row, 0);';
    this.userCode = `
      ${AS_INT_SNIPPET}
      ${PACKED_PICK_SNIPPET}

      // x_y of token r when its label y falls in this chunk, else \`keep\`.
      float labelLogit(int r, float label, float keep) {
        int j = sluiceAsInt(label) - vocabStart;
        if (r >= ${tokens} || j < 0 || j >= ${chunk}) {
          return keep;
        }
        return sluicePick(getLogits(r, j), r, j);
      }

      void main() {
        // Texel (r, 0) holds (label, x_y) of tokens r and r + 1 as x, y and z, w.
        int row = getOutputCoords().x;
        ${prev}
        setOutput(vec4(prev.x, labelLogit(row, prev.x, prev.y), prev.z, labelLogit(row + 1, prev.z, prev.w)));
      }
    `;
  }
}
