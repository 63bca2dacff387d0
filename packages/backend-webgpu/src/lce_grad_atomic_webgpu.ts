/**
 * The one-pass backward (SLUICE_WEBGPU_LCE_BACKWARD = 'atomic'), kept to be
 * measured against the two-pass default: per (token tile, vocabulary tile),
 * recompute the logits, form dz in workgroup memory, and add dz·C_tile into
 * dE, dzᵀ·E_tile into dC and the column sums into dBias with float
 * compare-and-swap atomics, so no dz block ever reaches memory. Output: one
 * zero-initialised buffer [N·D (dE) | V·D (dC, in the classifier's layout) |
 * V (dBias)] of f32 bit patterns.
 *
 * Accumulation, float32: each logit is a dot product over D in 16-deep tiles
 * (fma per step); each tile's contribution to a gradient entry is a sum over
 * its 32 classes (dE) or tokens (dC, dBias) in order, and the tiles' sums
 * reach memory in whatever order the atomics land: not deterministic.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {ACC_DECL, classifierAt, ClassifierLayout, logitGradSnippet, logitLoadersSnippet, logitSnippet,
        logitTileLayout, tileCols, tiledMatMulSnippet, tileKey, tileRows, TileShape} from './shader_util';

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
  uniforms = 'numTokens : i32, vocab : i32, dim : i32, cOffset : i32, cStride : i32, softcap : f32, filterEps : f32,';

  constructor(packedLength: number, tokens: number, vocab: number, private hasBias: boolean, private softcap: boolean,
              private layout: ClassifierLayout, private weighted: boolean) {
    this.variableNames = ['E', 'C', 'tok', ...(hasBias ? ['bias'] : []), ...(weighted ? ['weights'] : [])];
    this.outputShape = [packedLength];
    this.dispatch = [Math.ceil(vocab / tileCols(ATOMIC_TILE)), Math.ceil(tokens / tileRows(ATOMIC_TILE)), 1];
    this.shaderKey = `sluice_lceGradAtomic_${tileKey(ATOMIC_TILE)}_${layout}_${hasBias}_${softcap}_${weighted}`;
  }

  getUserCode(): string {
    const t = ATOMIC_TILE;
    const {rm, rn, wgX, wgY} = t;
    const tm = tileRows(t), tn = tileCols(t), threads = wgX * wgY;
    // Both reduction loops below walk 32-wide slices of D with the same threads.
    const slice = tn;
    if (tm !== tn || rm !== rn || slice / wgX !== rn) {
      throw new Error(`LceGradAtomicProgram: square tiles with ${rn} slice columns per thread`);
    }
    // One slice step: stage the operand's tn rows of the slice in \`rows\` (neighbouring threads read
    // neighbouring addresses: along the slice, or along the rows when \`rowsContiguous\`), then each
    // thread adds the dz-weighted sums of its rm output rows × rn slice columns into the target.
    const accumulate = (o: {staged: (j: string, dd: string) => string, rowsContiguous: boolean, stagedBase: string,
                            stagedLimit: string, dzAt: string, ownBase: string, ownLimit: string, target: string}) => `
      for (var l = 0; l < ${(tn * slice) / threads}; l++) {
        let i = i32(localIndex) + l * ${threads};
        ${o.rowsContiguous ? `let j = i % ${tn}; let dd = i / ${tn};` : `let j = i / ${slice}; let dd = i % ${slice};`}
        var value = 0.0;
        if (${o.stagedBase} + j < ${o.stagedLimit} && d0 + dd < uniforms.dim) {
          value = ${o.staged(`${o.stagedBase} + j`, 'd0 + dd')};
        }
        rows[j * ${slice + 1} + dd] = value;
      }
      workgroupBarrier();
      for (var r = 0; r < ${rm}; r++) {
        let own = ty * ${rm} + r;
        for (var c = 0; c < ${rn}; c++) {
          let dd = tx * ${rn} + c;
          var sum = 0.0;
          for (var j = 0; j < ${tn}; j++) {
            sum = fma(${o.dzAt}, rows[j * ${slice + 1} + dd], sum);
          }
          if (${o.ownBase} + own < ${o.ownLimit} && d0 + dd < uniforms.dim) {
            atomicAddF32(${o.target}, sum);
          }
        }
      }
      workgroupBarrier();`;
    const dv = this.layout === 'dv';
    return `
  ${logitSnippet(this.hasBias, this.softcap, '0')}
  ${logitGradSnippet(t, TOKEN_FIELDS, this.softcap, this.weighted, '0')}
  ${logitLoadersSnippet('0', this.layout)}
  ${tiledMatMulSnippet(t, 'k', logitTileLayout(this.layout))}
  var<workgroup> dzs : array<f32, ${tm * (tn + 1)}>;
  var<workgroup> rows : array<f32, ${Math.max(tm, tn) * (slice + 1)}>;

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
    ${ACC_DECL}
    mmRun(&acc, m0, n0, 0, (uniforms.dim + ${t.tk - 1}) / ${t.tk});

    if (!sluiceDzTile(&acc, m0, n0, 0)) {
      return;
    }
    for (var r = 0; r < ${rm}; r++) {
      for (var c = 0; c < ${rn}; c++) {
        dzs[(ty * ${rm} + r) * ${tn + 1} + tx * ${rn} + c] = acc[r][c];
      }
    }
    workgroupBarrier();
    let dCBase = uniforms.numTokens * uniforms.dim;
    let slices = (uniforms.dim + ${slice - 1}) / ${slice};
    for (var s = 0; s < slices; s++) {
      let d0 = s * ${slice};
      // dE[m0 + i, d0 + d] += Σ_j dz[i, j] · C[n0 + j, d0 + d]
      ${accumulate({staged: (j, dd) => classifierAt(this.layout, j, dd), rowsContiguous: dv, stagedBase: 'n0',
                    stagedLimit: 'uniforms.vocab', dzAt: `dzs[own * ${tn + 1} + j]`, ownBase: 'm0',
                    ownLimit: 'uniforms.numTokens', target: '(m0 + own) * uniforms.dim + d0 + dd'})}
      // dC[n0 + j, d0 + d] += Σ_i dz[i, j] · E[m0 + i, d0 + d] (at [d0 + d, n0 + j] for 'dv')
      ${accumulate({staged: (j, dd) => `E[(${j}) * uniforms.dim + ${dd}]`, rowsContiguous: false, stagedBase: 'm0',
                    stagedLimit: 'uniforms.numTokens', dzAt: `dzs[j * ${tn + 1} + own]`, ownBase: 'n0',
                    ownLimit: 'uniforms.vocab',
                    target: dv ? 'dCBase + (d0 + dd) * uniforms.vocab + n0 + own' :
                                 'dCBase + (n0 + own) * uniforms.dim + d0 + dd'})}
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
