/**
 * Backward pass, step 1 of each vocabulary block: recompute the logits tile
 * by tile and write dL/dx for the block, [tokens, block]:
 *   dz = p·(g(1 + 2·zLoss·lse) + dLse) − g(ls + maxSup)/V − g(1 − ls)[j = y] + g·maxSup[j = argmax]
 * times the softcap derivative 1 − (z/s)², with g = dLosses (0 for ignored
 * tokens); the per-token coefficients come packed from `LceTokenCoefProgram`. A tile whose softmax stays below `filterEps` for every token, and
 * that holds no label or argmax of its tokens, is written as zeros and flagged,
 * so the two matmul passes that follow skip it. Flags (1 = skip) follow the
 * block in the same buffer, one per [tile row, tile column].
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {ACC_DECL, logitGradSnippet, logitLoadersSnippet, logitSnippet, TILE, tileCols,
        tiledMatMulSnippet, tileKey, tileRows} from './shader_util';

export class LceGradLogitsProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [1], y: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numTokens : i32, eRow : i32, biasRow : i32, vocab : i32, cRow : i32, dim : i32, vocabOffset : i32, softcap : f32, ' +
      'filterEps : f32,';

  constructor(blockLength: number, tokens: number, block: number, private hasBias: boolean,
              private softcap: boolean) {
    this.variableNames = ['E', 'C', 'tok'];
    if (hasBias) {
      this.variableNames.push('bias');
    }
    this.outputShape = [blockLength];
    this.dispatch = [Math.ceil(block / tileCols(TILE)), Math.ceil(tokens / tileRows(TILE)), 1];
    this.shaderKey = `sluice_lceGradLogits_${tileKey(TILE)}_${hasBias}_${softcap}`;
  }

  getUserCode(): string {
    const {rm, rn, wgX, wgY} = TILE;
    const tm = tileRows(TILE), tn = tileCols(TILE);
    return `
  ${logitSnippet(this.hasBias, this.softcap, 'uniforms.biasRow')}
  ${logitGradSnippet(TILE, TOKEN_FIELDS, this.softcap)}
  ${logitLoadersSnippet('uniforms.eRow', 'uniforms.cRow')}
  ${tiledMatMulSnippet(TILE, 'k', 'k')}

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
