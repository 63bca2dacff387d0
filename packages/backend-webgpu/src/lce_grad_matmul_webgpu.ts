/**
 * Backward pass, steps 2 and 3 of each vocabulary block: the two matmuls over
 * the dz block, accumulated into the gradients in place,
 *   'dE':  dE[tokens, D]  (+)= dz · C_block      (reduction over the block's classes)
 *   'dC':  dC_block[·, D] (+)= dzᵀ · E           (classifier [V, D]; reduction over the tokens)
 *   'dCt': dC[D, block]   (+)= Eᵀ · dz           (classifier [D, V]: the gradient in its layout)
 * Reduction steps whose dz tile was flagged as filtered are skipped for the
 * whole workgroup. The D dimension may be cut into dispatch-limit chunks
 * (`dOffset`); `accumulate` = 0 writes.
 *
 * Accumulation, float32: each output is one sum over the reduction index in
 * 32-deep tiles in index order (fma per step); successive vocabulary blocks
 * (dE) or token chunks (dC) add to the target in order.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {ACC_DECL, classifierAt, ClassifierLayout, OperandLayout, operandLoadersSnippet, TILE, tileCols,
        tiledMatMulSnippet, tileKey, tileRows} from './shader_util';

export type LceGradMatMulKind = 'dE'|'dC'|'dCt';

export class LceGradMatMulProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [1], y: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numTokens : i32, block : i32, dim : i32, eRow : i32, cOffset : i32, cStride : i32, outRow : i32, ' +
      'outStride : i32, dOffset : i32, accumulate : i32,';

  /**
   * `rows` × `cols` = the outputs of this dispatch (tokens × D for dE, block ×
   * D for dC, D × block for dCt, with D possibly a chunk of `dOffset`).
   * `layout`: the classifier's, which dE reads.
   */
  constructor(outShape: number[], rows: number, cols: number, private kind: LceGradMatMulKind,
              private layout: ClassifierLayout = 'vd') {
    if (tileRows(TILE) !== tileCols(TILE)) {
      throw new Error('LceGradMatMulProgram: dz tiles must be square for the skip flags to line up');
    }
    // dE reads the classifier block, dC and dCt the embeddings.
    this.variableNames = ['dz', kind === 'dE' ? 'C' : 'E'];
    this.outputShape = outShape;
    this.dispatch = [Math.ceil(cols / tileCols(TILE)), Math.ceil(rows / tileRows(TILE)), 1];
    this.shaderKey = `sluice_lceGradMatMul_${kind}_${kind === 'dE' ? layout : ''}_${tileKey(TILE)}`;
  }

  getUserCode(): string {
    const {rm, rn} = TILE;
    const tm = tileRows(TILE), tn = tileCols(TILE);
    const kind = this.kind;
    const dzAt = (token: string, column: string) => `dz[${token} * uniforms.block + ${column}]`;
    const eAt = (token: string, feature: string) => `E[(uniforms.eRow + ${token}) * uniforms.dim + ${feature}]`;
    const d = (index: string) => `uniforms.dOffset + ${index}`;
    // Per kind: the loaders, their layouts, the reduction length, how a dz tile's flag is found for
    // reduction group g, the outputs' bounds and where output (row, col) goes.
    const spec: Record<LceGradMatMulKind, {a: string, b: string, aLayout: OperandLayout, bLayout: OperandLayout,
                                           aRange: string, bRange: string, reduction: string, flag: string,
                                           outRows: string, outCols: string, at: string}> = {
      // A(m = token, k = class) = dz; B(k = class, n = feature) = C.
      dE: {a: dzAt('m', 'k'), b: classifierAt(this.layout, 'k', d('n')), aLayout: 'k',
           bLayout: this.layout === 'vd' ? 'mn' : 'k', aRange: 'm < uniforms.numTokens && k < uniforms.block',
           bRange: `k < uniforms.block && ${d('n')} < uniforms.dim`, reduction: 'uniforms.block',
           flag: 'i32(workgroupId.y) * tilesN + g', outRows: 'uniforms.numTokens', outCols: 'uniforms.dim - uniforms.dOffset',
           at: `(uniforms.outRow + row) * uniforms.dim + ${d('col')}`},
      // A(m = class, k = token) = dz; B(k = token, n = feature) = E.
      dC: {a: dzAt('k', 'm'), b: eAt('k', d('n')), aLayout: 'mn', bLayout: 'mn',
           aRange: 'm < uniforms.block && k < uniforms.numTokens', bRange: `k < uniforms.numTokens && ${d('n')} < uniforms.dim`,
           reduction: 'uniforms.numTokens', flag: 'g * tilesN + i32(workgroupId.y)', outRows: 'uniforms.block',
           outCols: 'uniforms.dim - uniforms.dOffset', at: `(uniforms.outRow + row) * uniforms.dim + ${d('col')}`},
      // A(m = feature, k = token) = E; B(k = token, n = class) = dz.
      dCt: {a: eAt('k', d('m')), b: dzAt('k', 'n'), aLayout: 'mn', bLayout: 'mn',
            aRange: `${d('m')} < uniforms.dim && k < uniforms.numTokens`, bRange: 'k < uniforms.numTokens && n < uniforms.block',
            reduction: 'uniforms.numTokens', flag: 'g * tilesN + i32(workgroupId.x)',
            outRows: 'uniforms.dim - uniforms.dOffset', outCols: 'uniforms.block',
            at: `(${d('row')}) * uniforms.outStride + uniforms.outRow + col`},
    };
    const k = spec[kind];
    // A dz tile spans tm tokens × tn classes; one reduction group is one tile.
    const groupSize = kind === 'dE' ? tn : tm;
    return `
  ${operandLoadersSnippet({inRange: k.aRange, value: k.a}, {inRange: k.bRange, value: k.b})}
  ${tiledMatMulSnippet(TILE, k.aLayout, k.bLayout)}

  ${main()} {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let n0 = i32(workgroupId.x) * ${tn};
    let m0 = i32(workgroupId.y) * ${tm};
    let tilesN = (uniforms.block + ${tn - 1}) / ${tn};
    let flags = uniforms.numTokens * uniforms.block;
    let reduction = ${k.reduction};
    let groups = (reduction + ${groupSize - 1}) / ${groupSize};
    ${ACC_DECL}
    for (var g = 0; g < groups; g++) {
      let k0 = g * ${groupSize};
      mmRunUnless(&acc, m0, n0, k0, min(${groupSize / TILE.tk}, (reduction - k0 + ${TILE.tk - 1}) / ${TILE.tk}),
                  dz[flags + ${k.flag}] != 0.0);
    }
    for (var r = 0; r < ${rm}; r++) {
      let row = m0 + ty * ${rm} + r;
      for (var c = 0; c < ${rn}; c++) {
        let col = n0 + tx * ${rn} + c;
        if (row < ${k.outRows} && col < ${k.outCols}) {
          let i = ${k.at};
          result[i] = acc[r][c] + select(0.0, result[i], uniforms.accumulate != 0);
        }
      }
    }
  }
`;
  }
}
