/**
 * Backward pass, step 1 of each vocabulary block: recompute the logits tile
 * by tile and write dL/dx for the block, [tokens, block]: the epilogue of
 * `logitGradSnippet` (dz from the packed per-token coefficients of
 * `LceTokenCoefProgram`, exactly 0 at masked classes), times the softcap
 * derivative. A tile whose softmax stays below `filterEps` for every token,
 * and that holds no label or argmax of its tokens, is written as zeros and
 * flagged, so the two matmul passes that follow skip it. Flags (1 = skip)
 * follow the block in the same buffer, one per [tile row, tile column].
 *
 * Accumulation: each logit is one float32 dot product over D, in 32-deep
 * tiles, each tile in feature order (fma per step); no other reduction.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {ACC_DECL, ClassifierLayout, logitGradSnippet, logitLoadersSnippet, logitSnippet, logitTileLayout, TILE,
        tileCols, tiledMatMulSnippet, tileKey, tileRows} from './shader_util';

export class LceGradLogitsProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [1], y: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numTokens : i32, eRow : i32, biasRow : i32, vocab : i32, cOffset : i32, cStride : i32, dim : i32, ' +
      'vocabOffset : i32, softcap : f32, filterEps : f32,';

  /** `weighted`: the smoothing term reads classWeights (binding `weights`, rows as the bias's). */
  constructor(blockLength: number, tokens: number, block: number, private hasBias: boolean, private softcap: boolean,
              private layout: ClassifierLayout, private weighted: boolean) {
    this.variableNames = ['E', 'C', 'tok', ...(hasBias ? ['bias'] : []), ...(weighted ? ['weights'] : [])];
    this.outputShape = [blockLength];
    this.dispatch = [Math.ceil(block / tileCols(TILE)), Math.ceil(tokens / tileRows(TILE)), 1];
    this.shaderKey = `sluice_lceGradLogits_${tileKey(TILE)}_${layout}_${hasBias}_${softcap}_${weighted}`;
  }

  getUserCode(): string {
    const {rm, rn, wgX, wgY} = TILE;
    const tm = tileRows(TILE), tn = tileCols(TILE);
    return `
  ${logitSnippet(this.hasBias, this.softcap, 'uniforms.biasRow')}
  ${logitGradSnippet(TILE, TOKEN_FIELDS, this.softcap, this.weighted, 'uniforms.biasRow')}
  ${logitLoadersSnippet('uniforms.eRow', this.layout)}
  ${tiledMatMulSnippet(TILE, 'k', logitTileLayout(this.layout))}

  ${main()} {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let n0 = i32(workgroupId.x) * ${tn};
    let m0 = i32(workgroupId.y) * ${tm};
    ${ACC_DECL}
    mmRun(&acc, m0, n0, 0, (uniforms.dim + ${TILE.tk - 1}) / ${TILE.tk});

    let keepAll = sluiceDzTile(&acc, m0, n0, uniforms.vocabOffset);
    for (var r = 0; r < ${rm}; r++) {
      let row = m0 + ty * ${rm} + r;
      for (var c = 0; c < ${rn}; c++) {
        let col = n0 + tx * ${rn} + c;
        if (row < uniforms.numTokens && col < uniforms.vocab) {
          result[row * uniforms.vocab + col] = select(0.0, acc[r][c], keepAll);
        }
      }
    }
    if (localIndex == 0u) {
      let tilesN = (uniforms.vocab + ${tn - 1}) / ${tn};
      result[uniforms.numTokens * uniforms.vocab + i32(workgroupId.y) * tilesN + i32(workgroupId.x)] =
          select(1.0, 0.0, keepAll);
    }
  }
`;
  }
}

/** Elements of a dz block buffer: the block itself, then one skip flag per tile. */
export function gradBlockLength(tokens: number, block: number): number {
  return tokens * block + Math.ceil(tokens / tileRows(TILE)) * Math.ceil(block / tileCols(TILE));
}
