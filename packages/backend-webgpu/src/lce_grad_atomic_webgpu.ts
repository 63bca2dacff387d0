/**
 * The one-pass backward (SLUICE_WEBGPU_LCE_BACKWARD = 'atomic'), kept to be
 * measured against the two-pass default: per (token tile, vocabulary tile),
 * recompute the logits, form dz in workgroup memory, and add dz·C_tile into
 * dE, dzᵀ·E_tile into dC and the column sums into dBias with float
 * compare-and-swap atomics, so no dz block ever reaches memory. Output: one
 * zero-initialised buffer [N·D (dE) | V·D (dC) | V (dBias)] of f32 bit patterns.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {ACC_DECL, SOFTCAP_SNIPPET, TileShape, tileCols, tiledMatMulSnippet, tileKey, tileRows} from './shader_util';

/** 32×32 tiles: the dz tile, the matmul tiles and the reload tiles share 16 KiB. */
export const ATOMIC_TILE: TileShape = {wgX: 8, wgY: 8, rm: 4, rn: 4, tk: 16};

export class LceGradAtomicProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [1], y: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ATOMIC_TILE.wgX, ATOMIC_TILE.wgY, 1];
  atomic = true;
  uniforms = 'numTokens : i32, vocab : i32, dim : i32, softcap : f32, filterEps : f32,';

  constructor(packedLength: number, tokens: number, vocab: number, private hasBias: boolean,
              private softcap: boolean) {
    this.variableNames = ['E', 'C', 'tok', ...(hasBias ? ['bias'] : [])];
    this.outputShape = [packedLength];
    this.dispatch = [Math.ceil(vocab / tileCols(ATOMIC_TILE)), Math.ceil(tokens / tileRows(ATOMIC_TILE)), 1];
    this.shaderKey = `sluice_lceGradAtomic_${tileKey(ATOMIC_TILE)}_${hasBias}_${softcap}`;
  }

  getUserCode(): string {
    const t = ATOMIC_TILE;
    const {rm, rn, wgX, wgY} = t;
    const tm = tileRows(t), tn = tileCols(t), threads = wgX * wgY;
    // Both reduction loops below walk 32-wide slices of D with the same threads.
    const slice = tn;
    return `
  ${SOFTCAP_SNIPPET}
  fn mmA(m : i32, k : i32) -> f32 {
    if (m < uniforms.numTokens && k < uniforms.dim) {
      return E[m * uniforms.dim + k];
    }
    return 0.0;
  }
  fn mmB(k : i32, n : i32) -> f32 {
    if (n < uniforms.vocab && k < uniforms.dim) {
      return C[n * uniforms.dim + k];
    }
    return 0.0;
  }
  ${tiledMatMulSnippet(t, 'k', 'k')}
  var<workgroup> dzs : array<f32, ${tm * (tn + 1)}>;
  var<workgroup> rows : array<f32, ${Math.max(tm, tn) * (slice + 1)}>;
  var<workgroup> keepTile : atomic<u32>;
  var<workgroup> keepAll : u32;

  fn atomicAddF32(i : i32, v : f32) {
    if (v == 0.0) {
      return;
    }
    var old = atomicLoad(&result[i]);
    loop {
      let r = atomicCompareExchangeWeak(&result[i], old, bitcast<i32>(bitcast<f32>(old) + v));
      if (r.exchanged) {
        break;
      }
      old = r.old_value;
    }
  }

  ${main()} {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let n0 = i32(workgroupId.x) * ${tn};
    let m0 = i32(workgroupId.y) * ${tm};
    if (localIndex == 0u) {
      atomicStore(&keepTile, 0u);
    }
    workgroupBarrier();
    ${ACC_DECL}
    mmRun(&acc, m0, n0, 0, (uniforms.dim + ${t.tk - 1}) / ${t.tk});

    var keep = false;
    for (var r = 0; r < ${rm}; r++) {
      let lr = ty * ${rm} + r;
      let row = m0 + lr;
      for (var c = 0; c < ${rn}; c++) {
        let lc = tx * ${rn} + c;
        let col = n0 + lc;
        var dz = 0.0;
        if (row < uniforms.numTokens && col < uniforms.vocab) {
          let o = row * ${TOKEN_FIELDS};
          var x = acc[r][c];
          ${this.hasBias ? 'x = x + bias[col];' : ''}
          ${this.softcap ? 'x = sluiceSoftcap(x, uniforms.softcap);' : ''}
          let p = exp(x - tok[o]);
          dz = p * tok[o + 1] + tok[o + 2];
          if (col == i32(tok[o + 5])) {
            dz = dz + tok[o + 3];
            keep = true;
          }
          if (col == i32(tok[o + 6])) {
            dz = dz + tok[o + 4];
            keep = true;
          }
          ${this.softcap ? 'let q = x / uniforms.softcap; dz = dz * (1.0 - q * q);' : ''}
          keep = keep || p >= uniforms.filterEps || isnan(dz);  // a NaN row (bad label) is never filtered
        }
        dzs[lr * ${tn + 1} + lc] = dz;
      }
    }
    if (keep) {
      atomicOr(&keepTile, 1u);
    }
    workgroupBarrier();
    if (localIndex == 0u) {
      keepAll = atomicLoad(&keepTile);
    }
    if (workgroupUniformLoad(&keepAll) == 0u) {
      return;
    }
    let dCBase = uniforms.numTokens * uniforms.dim;
    let slices = (uniforms.dim + ${slice - 1}) / ${slice};
    for (var s = 0; s < slices; s++) {
      let d0 = s * ${slice};
      // dE[m0 + i, d0 + d] += Σ_j dz[i, j] · C[n0 + j, d0 + d]
      for (var l = 0; l < ${(tn * slice) / threads}; l++) {
        let i = i32(localIndex) + l * ${threads};
        let j = i / ${slice};
        let dd = i % ${slice};
        var value = 0.0;
        if (n0 + j < uniforms.vocab && d0 + dd < uniforms.dim) {
          value = C[(n0 + j) * uniforms.dim + d0 + dd];
        }
        rows[j * ${slice + 1} + dd] = value;
      }
      workgroupBarrier();
      for (var r = 0; r < ${rm}; r++) {
        let lr = ty * ${rm} + r;
        for (var c = 0; c < ${slice / wgX}; c++) {
          let dd = tx * ${rn} + c;
          var sum = 0.0;
          for (var j = 0; j < ${tn}; j++) {
            sum = fma(dzs[lr * ${tn + 1} + j], rows[j * ${slice + 1} + dd], sum);
          }
          if (m0 + lr < uniforms.numTokens && d0 + dd < uniforms.dim) {
            atomicAddF32((m0 + lr) * uniforms.dim + d0 + dd, sum);
          }
        }
      }
      workgroupBarrier();
      // dC[n0 + j, d0 + d] += Σ_i dz[i, j] · E[m0 + i, d0 + d]
      for (var l = 0; l < ${(tm * slice) / threads}; l++) {
        let i = i32(localIndex) + l * ${threads};
        let ii = i / ${slice};
        let dd = i % ${slice};
        var value = 0.0;
        if (m0 + ii < uniforms.numTokens && d0 + dd < uniforms.dim) {
          value = E[(m0 + ii) * uniforms.dim + d0 + dd];
        }
        rows[ii * ${slice + 1} + dd] = value;
      }
      workgroupBarrier();
      for (var r = 0; r < ${rn}; r++) {
        let lc = ty * ${rm} + r;
        for (var c = 0; c < ${slice / wgX}; c++) {
          let dd = tx * ${rn} + c;
          var sum = 0.0;
          for (var i = 0; i < ${tm}; i++) {
            sum = fma(dzs[i * ${tn + 1} + lc], rows[i * ${slice + 1} + dd], sum);
          }
          if (n0 + lc < uniforms.vocab && d0 + dd < uniforms.dim) {
            atomicAddF32(dCBase + (n0 + lc) * uniforms.dim + d0 + dd, sum);
          }
        }
      }
      workgroupBarrier();
    }
    ${this.hasBias ? `
    if (i32(localIndex) < ${tn} && n0 + i32(localIndex) < uniforms.vocab) {
      var sum = 0.0;
      for (var i = 0; i < ${tm}; i++) {
        sum = sum + dzs[i * ${tn + 1} + i32(localIndex)];
      }
      atomicAddF32(dCBase + uniforms.vocab * uniforms.dim + n0 + i32(localIndex), sum);
    }` : ''}
  }
`;
  }
}
