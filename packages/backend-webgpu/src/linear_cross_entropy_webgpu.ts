/**
 * Forward pass, part 1: per (token tile, vocabulary split), the logits tile
 * E·Cᵀ (+ bias, softcap) is built in workgroup memory one vocabulary tile at a
 * time and folded into an online (max, Σexp, argmax, Σz, label logit) per row
 * and thread; the threads sharing a row merge at the end. Output: [splits,
 * tokens, 5] partial statistics, merged per token by `LceMergeProgram`.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {ACC_DECL, logitLoadersSnippet, logitSnippet, NEG_SNIPPET, TILE, tileCols, tiledMatMulSnippet,
        tileKey, tileRows} from './shader_util';

/** Fields of one partial record. */
export const PARTIAL_FIELDS = 5;

export class LcePartialProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0], y: [1]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numTokens : i32, eRow : i32, biasRow : i32, labelRow : i32, vocab : i32, cRow : i32, dim : i32, vocabOffset : i32, ' +
      'splitSize : i32, tilesPerSplit : i32, splitOffset : i32, softcap : f32,';

  constructor(partialShape: number[], tokens: number, splits: number, private hasBias: boolean,
              private softcap: boolean, private needSumZ: boolean) {
    this.variableNames = hasBias ? ['E', 'C', 'labels', 'bias'] : ['E', 'C', 'labels'];
    this.outputShape = partialShape;
    this.dispatch = [Math.ceil(tokens / tileRows(TILE)), splits, 1];
    this.shaderKey = `sluice_lcePartial_${tileKey(TILE)}_${hasBias}_${softcap}_${needSumZ}`;
  }

  getUserCode(): string {
    const {rm, rn, wgX, wgY} = TILE;
    const tm = tileRows(TILE), tn = tileCols(TILE);
    return `
  ${NEG_SNIPPET}
  ${logitSnippet(this.hasBias, this.softcap, 'uniforms.biasRow')}
  ${logitLoadersSnippet('uniforms.eRow', 'uniforms.cRow')}
  ${tiledMatMulSnippet(TILE, 'k', 'k')}
  var<workgroup> red : array<f32, ${tm * wgX}>;

  ${main()} {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let m0 = i32(workgroupId.x) * ${tm};
    let split = i32(workgroupId.y);
    let splitStart = split * uniforms.splitSize;
    let splitEnd = min(uniforms.vocab, splitStart + uniforms.splitSize);
    let kTiles = (uniforms.dim + ${TILE.tk - 1}) / ${TILE.tk};

    var rowMax : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowSum : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowArg : array<i32, ${rm}> = array<i32, ${rm}>();
    var rowZ : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowLabelZ : array<f32, ${rm}> = array<f32, ${rm}>();
    // NaN once the row has met a NaN logit: max() and comparisons drop NaNs,
    // so it travels in the label field (summed, never compared) to the merge.
    var rowNaN : array<f32, ${rm}> = array<f32, ${rm}>();
    var label : array<i32, ${rm}> = array<i32, ${rm}>();
    for (var r = 0; r < ${rm}; r++) {
      rowMax[r] = SLUICE_NEG;
      let row = m0 + ty * ${rm} + r;
      label[r] = -1;
      if (row < uniforms.numTokens) {
        label[r] = labels[uniforms.labelRow + row] - uniforms.vocabOffset;
      }
    }

    for (var t = 0; t < uniforms.tilesPerSplit; t++) {
      let n0 = splitStart + t * ${tn};
      ${ACC_DECL}
      mmRun(&acc, m0, n0, 0, kTiles);
      for (var r = 0; r < ${rm}; r++) {
        var z : array<f32, ${rn}> = array<f32, ${rn}>();
        var tileMax = SLUICE_NEG;
        var tileArg = 0;
        for (var c = 0; c < ${rn}; c++) {
          let col = n0 + tx * ${rn} + c;
          if (col < splitEnd) {
            let pre = sluicePreCap(acc[r][c], col);
            if (isnan(pre)) {
              rowNaN[r] = pre;
            }
            let x = sluiceCap(pre);
            z[c] = x;
            if (x > tileMax) {
              tileMax = x;
              tileArg = col;
            }
            if (col == label[r]) {
              rowLabelZ[r] = x;
            }
          } else {
            z[c] = SLUICE_NEG;
          }
        }
        // Strictly greater: an earlier tile keeps the first index on ties.
        if (tileMax > rowMax[r]) {
          rowSum[r] = rowSum[r] * exp(rowMax[r] - tileMax);
          rowMax[r] = tileMax;
          rowArg[r] = tileArg;
        }
        for (var c = 0; c < ${rn}; c++) {
          if (z[c] > SLUICE_NEG) {
            rowSum[r] = rowSum[r] + exp(z[c] - rowMax[r]);
            ${this.needSumZ ? 'rowZ[r] = rowZ[r] + z[c];' : ''}
          }
        }
      }
    }

    // Merge the ${wgX} threads of each row through workgroup memory, one
    // field at a time; thread i < ${tm} owns local row i.
    let owner = i32(localIndex) < ${tm};
    let ownRow = i32(localIndex);
    var lanes : array<f32, ${wgX}> = array<f32, ${wgX}>();
    var mMax = SLUICE_NEG;
    for (var r = 0; r < ${rm}; r++) {
      red[(ty * ${rm} + r) * ${wgX} + tx] = rowMax[r];
    }
    workgroupBarrier();
    if (owner) {
      for (var l = 0; l < ${wgX}; l++) {
        lanes[l] = red[ownRow * ${wgX} + l];
        mMax = max(mMax, lanes[l]);
      }
    }
    workgroupBarrier();
    for (var r = 0; r < ${rm}; r++) {
      red[(ty * ${rm} + r) * ${wgX} + tx] = rowSum[r];
    }
    workgroupBarrier();
    var mSum = 0.0;
    if (owner) {
      for (var l = 0; l < ${wgX}; l++) {
        if (lanes[l] > SLUICE_NEG) {
          mSum = mSum + red[ownRow * ${wgX} + l] * exp(lanes[l] - mMax);
        }
      }
    }
    workgroupBarrier();
    for (var r = 0; r < ${rm}; r++) {
      red[(ty * ${rm} + r) * ${wgX} + tx] = bitcast<f32>(rowArg[r]);
    }
    workgroupBarrier();
    var mArg = 0x7fffffff;
    if (owner) {
      for (var l = 0; l < ${wgX}; l++) {
        if (lanes[l] == mMax && lanes[l] > SLUICE_NEG) {
          mArg = min(mArg, bitcast<i32>(red[ownRow * ${wgX} + l]));
        }
      }
    }
    workgroupBarrier();
    for (var r = 0; r < ${rm}; r++) {
      red[(ty * ${rm} + r) * ${wgX} + tx] = rowZ[r];
    }
    workgroupBarrier();
    var mZ = 0.0;
    if (owner) {
      for (var l = 0; l < ${wgX}; l++) {
        mZ = mZ + red[ownRow * ${wgX} + l];
      }
    }
    workgroupBarrier();
    for (var r = 0; r < ${rm}; r++) {
      red[(ty * ${rm} + r) * ${wgX} + tx] = rowLabelZ[r] + rowNaN[r];
    }
    workgroupBarrier();
    if (owner) {
      var mLabel = 0.0;
      for (var l = 0; l < ${wgX}; l++) {
        mLabel = mLabel + red[ownRow * ${wgX} + l];
      }
      let row = m0 + ownRow;
      if (row < uniforms.numTokens) {
        let base = ((uniforms.splitOffset + split) * uniforms.numTokens + row) * ${PARTIAL_FIELDS};
        result[base] = mMax;
        result[base + 1] = mSum;
        result[base + 2] = f32(select(mArg + uniforms.vocabOffset, -1, mArg == 0x7fffffff));
        result[base + 3] = mZ;
        result[base + 4] = mLabel;
      }
    }
  }
`;
  }
}
