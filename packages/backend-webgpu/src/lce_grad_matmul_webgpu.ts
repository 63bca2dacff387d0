/**
 * Backward pass, steps 2 and 3 of each vocabulary block: the two matmuls over
 * the dz block, accumulated into the gradients in place,
 *   'dE': dE[tokens, D] (+)= dz · C_block     (reduction over the block's columns)
 *   'dC': dC_block[D]   (+)= dzᵀ · E          (reduction over the tokens)
 * Reduction steps whose dz tile was flagged as filtered are skipped for the
 * whole workgroup. Output rows start at `outRow`; `accumulate` = 0 writes.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {ACC_DECL, operandLoadersSnippet, TILE, tileCols, tiledMatMulSnippet, tileKey, tileRows} from './shader_util';

export type LceGradMatMulKind = 'dE'|'dC';

export class LceGradMatMulProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [1], y: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numTokens : i32, block : i32, dim : i32, otherRow : i32, outRow : i32, colOffset : i32, ' +
      'accumulate : i32,';

  /**
   * `rows` = output rows of this dispatch (tokens for dE, block columns for dC);
   * `cols` = output columns covered (≤ D: dispatch-limit chunks use colOffset).
   */
  constructor(outShape: number[], rows: number, cols: number, private kind: LceGradMatMulKind) {
    if (tileRows(TILE) !== tileCols(TILE)) {
      throw new Error('LceGradMatMulProgram: dz tiles must be square for the skip flags to line up');
    }
    // dE reads the classifier block, dC the embeddings.
    this.variableNames = ['dz', kind === 'dE' ? 'C' : 'E'];
    this.outputShape = outShape;
    this.dispatch = [Math.ceil(cols / tileCols(TILE)), Math.ceil(rows / tileRows(TILE)), 1];
    this.shaderKey = `sluice_lceGradMatMul_${kind}_${tileKey(TILE)}`;
  }

  getUserCode(): string {
    const {rm, rn, wgX, wgY} = TILE;
    const tm = tileRows(TILE), tn = tileCols(TILE);
    const dE = this.kind === 'dE';
    // dE: A(m = token, k = block column) = dz[m, k];  B(k, n = d) = C[cRow + k, d].
    // dC: A(m = block column, k = token) = dz[k, m];  B(k, n = d) = E[eRow + k, d].
    const loaders = dE ?
        operandLoadersSnippet(
            {inRange: 'm < uniforms.numTokens && k < uniforms.block', value: 'dz[m * uniforms.block + k]'},
            {inRange: 'k < uniforms.block && n < uniforms.dim', value: 'C[(uniforms.otherRow + k) * uniforms.dim + n]'}) :
        operandLoadersSnippet(
            {inRange: 'm < uniforms.block && k < uniforms.numTokens', value: 'dz[k * uniforms.block + m]'},
            {inRange: 'k < uniforms.numTokens && n < uniforms.dim', value: 'E[(uniforms.otherRow + k) * uniforms.dim + n]'});
    // A dz tile spans tm tokens × tn columns; one reduction group is one tile.
    const groupSize = dE ? tn : tm;
    const flagIndex = dE ? 'i32(workgroupId.y) * tilesN + g' : 'g * tilesN + i32(workgroupId.y)';
    return `
  ${loaders}
  ${tiledMatMulSnippet(TILE, dE ? 'k' : 'mn', 'mn')}

  ${main()} {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let n0 = uniforms.colOffset + i32(workgroupId.x) * ${tn};
    let m0 = i32(workgroupId.y) * ${tm};
    let tilesN = (uniforms.block + ${tn - 1}) / ${tn};
    let flags = uniforms.numTokens * uniforms.block;
    let reduction = ${dE ? 'uniforms.block' : 'uniforms.numTokens'};
    let groups = (reduction + ${groupSize - 1}) / ${groupSize};
    ${ACC_DECL}
    for (var g = 0; g < groups; g++) {
      let k0 = g * ${groupSize};
      mmRunUnless(&acc, m0, n0, k0, min(${groupSize / TILE.tk}, (reduction - k0 + ${TILE.tk - 1}) / ${TILE.tk}),
                  dz[flags + ${flagIndex}] != 0.0);
    }
    let outRows = ${dE ? 'uniforms.numTokens' : 'uniforms.block'};
    for (var r = 0; r < ${rm}; r++) {
      let row = m0 + ty * ${rm} + r;
      for (var c = 0; c < ${rn}; c++) {
        let col = n0 + tx * ${rn} + c;
        if (row < outRows && col < uniforms.dim) {
          let i = (uniforms.outRow + row) * uniforms.dim + col;
          result[i] = acc[r][c] + select(0.0, result[i], uniforms.accumulate != 0);
        }
      }
    }
  }
`;
  }
}
