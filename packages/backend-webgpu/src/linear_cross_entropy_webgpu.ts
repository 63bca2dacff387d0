/**
 * Forward pass, part 1: per (token tile, vocabulary split), the logits tile
 * E·Cᵀ (+ bias, softcap) is built in workgroup memory one vocabulary tile at a
 * time and folded into online per-row statistics of each thread; the threads
 * sharing a row merge at the end. Output: [splits, tokens, PARTIAL_FIELDS]
 * partial records, merged per token by `LceMergeProgram`. Masked classes
 * (bias −Inf) take part in none of the statistics.
 *
 * Accumulation, all float32:
 * - max / argmax: per thread, 4 columns per 32-wide vocabulary tile in
 *   column order (strictly greater: the first maximum wins), then the 8
 *   threads of a row in thread order (ties to the lowest index).
 * - Σexp(z − max): per thread in column order with an online max (the sum is
 *   rescaled by exp(old − new) when a tile raises it), then over the 8
 *   threads, each rescaled to the row max, summed in thread order.
 * - entropy numerator Q = Σ exp(z − max)·(z − max): alongside Σexp, relative
 *   to the running max (no cancellation against a large shared offset); a
 *   new max m' turns Q into exp(m − m')·(Q + s·(m − m')). Threads merge the same way.
 * - Σz and Σw·z (label smoothing, maxSup): plain sums per thread in column
 *   order, then over the 8 threads in order.
 * Each split covers `splitSize` consecutive classes (tiles of 32 in order;
 * a split shorter than splitSize, the last of a range, runs only the tiles
 * it needs); splits merge in vocabulary order in `LceMergeProgram`.
 */
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {ACC_DECL, ClassifierLayout, logitLoadersSnippet, logitSnippet, logitTileLayout, NEG_SNIPPET, TILE, tileCols,
        tiledMatMulSnippet, tileKey, tileRows} from './shader_util';

/** Fields of one partial record: max, Σexp, argmax, Σz, label logit (+ NaN marker), Σw·z, Q. */
export const PARTIAL_FIELDS = 7;

/** Compile-time variants of the forward (each is part of the shaderKey). */
export interface LceForwardVariant {
  hasBias: boolean;
  softcap: boolean;
  layout: ClassifierLayout;
  /** Σz per token (label smoothing or maxSup). */
  sumZ: boolean;
  /** Σ w_c·z_c per token (label smoothing with classWeights; binds `weights`). */
  weightedSumZ: boolean;
  /** Q for the entropy. */
  entropy: boolean;
}

export function forwardVariantKey(f: LceForwardVariant): string {
  return `${f.layout}_${f.hasBias}_${f.softcap}_${f.sumZ}_${f.weightedSumZ}_${f.entropy}`;
}

export class LcePartialProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0], y: [1]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numTokens : i32, eRow : i32, biasRow : i32, labelRow : i32, vocab : i32, cOffset : i32, cStride : i32, ' +
      'dim : i32, vocabOffset : i32, splitSize : i32, splitOffset : i32, softcap : f32,';

  constructor(partialShape: number[], tokens: number, splits: number, private f: LceForwardVariant) {
    this.variableNames = ['E', 'C', 'labels', ...(f.hasBias ? ['bias'] : []), ...(f.weightedSumZ ? ['weights'] : [])];
    this.outputShape = partialShape;
    this.dispatch = [Math.ceil(tokens / tileRows(TILE)), splits, 1];
    this.shaderKey = `sluice_lcePartial_${tileKey(TILE)}_${forwardVariantKey(f)}`;
  }

  getUserCode(): string {
    const {rm, rn, wgX} = TILE;
    const tm = tileRows(TILE), tn = tileCols(TILE);
    const f = this.f;
    // One round of the merge of the 8 threads of each row: every thread puts
    // `value(r)` of its rows in workgroup memory, the owner of each row reads
    // the 8 lanes with `read` (which sees lane l's value as `red[at + l]`).
    const round = (value: string, read: string) => `
    for (var r = 0; r < ${rm}; r++) {
      red[(ty * ${rm} + r) * ${wgX} + tx] = ${value};
    }
    workgroupBarrier();
    if (owner) {
      let at = ownRow * ${wgX};
      ${read}
    }
    workgroupBarrier();`;
    const sumRound = (name: string, value: string) => `
    var ${name} = 0.0;${round(value, `for (var l = 0; l < ${wgX}; l++) {
        ${name} = ${name} + red[at + l];
      }`)}`;
    return `
  ${NEG_SNIPPET}
  ${logitSnippet(f.hasBias, f.softcap, 'uniforms.biasRow')}
  ${logitLoadersSnippet('uniforms.eRow', f.layout)}
  ${tiledMatMulSnippet(TILE, 'k', logitTileLayout(f.layout))}
  var<workgroup> red : array<f32, ${tm * wgX}>;
  var<workgroup> splitTilesShared : i32;

  ${main()} {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let m0 = i32(workgroupId.x) * ${tm};
    let split = i32(workgroupId.y);
    let splitStart = split * uniforms.splitSize;
    let splitEnd = min(uniforms.vocab, splitStart + uniforms.splitSize);
    // Only the tiles that hold columns of this split (the last split of a range may be short). The
    // bound is the same for the whole workgroup, but tfjs hands workgroupId over through a private
    // variable, which the uniformity analysis cannot follow: workgroupUniformLoad makes it uniform,
    // so the barriers in the loop stay valid.
    if (localIndex == 0u) {
      splitTilesShared = (splitEnd - splitStart + ${tn - 1}) / ${tn};
    }
    let splitTiles = workgroupUniformLoad(&splitTilesShared);
    let kTiles = (uniforms.dim + ${TILE.tk - 1}) / ${TILE.tk};

    var rowMax : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowSum : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowArg : array<i32, ${rm}> = array<i32, ${rm}>();
    var rowZ : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowWZ : array<f32, ${rm}> = array<f32, ${rm}>();
    var rowQ : array<f32, ${rm}> = array<f32, ${rm}>();
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

    for (var t = 0; t < splitTiles; t++) {
      let n0 = splitStart + t * ${tn};
      ${ACC_DECL}
      mmRun(&acc, m0, n0, 0, kTiles);
      for (var r = 0; r < ${rm}; r++) {
        // SLUICE_NEG marks a column that takes no part: past the split, or masked.
        var z : array<f32, ${rn}> = array<f32, ${rn}>();
        var tileMax = SLUICE_NEG;
        var tileArg = 0;
        for (var c = 0; c < ${rn}; c++) {
          let col = n0 + tx * ${rn} + c;
          z[c] = SLUICE_NEG;
          if (col < splitEnd) {
            let l = sluiceLogitAt(acc[r][c], col);
            if (l.masked) {
              if (col == label[r]) {
                rowLabelZ[r] = -uniforms.INFINITY;  // a label at a masked class: loss +Inf
              }
              continue;
            }
            if (isnan(l.x)) {
              rowNaN[r] = l.x;
            }
            let x = sluiceCap(l.x);
            z[c] = x;
            if (x > tileMax) {
              tileMax = x;
              tileArg = col;
            }
            if (col == label[r]) {
              rowLabelZ[r] = x;
            }
          }
        }
        // Strictly greater: an earlier tile keeps the first index on ties.
        if (tileMax > rowMax[r]) {
          let scale = exp(rowMax[r] - tileMax);
          ${f.entropy ? `if (rowSum[r] > 0.0) {
            rowQ[r] = scale * (rowQ[r] + rowSum[r] * (rowMax[r] - tileMax));
          }` : ''}
          rowSum[r] = rowSum[r] * scale;
          rowMax[r] = tileMax;
          rowArg[r] = tileArg;
        }
        for (var c = 0; c < ${rn}; c++) {
          if (z[c] > SLUICE_NEG) {
            let shifted = z[c] - rowMax[r];
            let e = exp(shifted);
            rowSum[r] = rowSum[r] + e;
            ${f.entropy ? 'rowQ[r] = rowQ[r] + e * shifted;' : ''}
            ${f.sumZ ? 'rowZ[r] = rowZ[r] + z[c];' : ''}
            ${f.weightedSumZ ? `rowWZ[r] = rowWZ[r] + weights[uniforms.biasRow + n0 + tx * ${rn} + c] * z[c];` : ''}
          }
        }
      }
    }

    // Merge the ${wgX} threads of each row through workgroup memory, one
    // field at a time; thread i < ${tm} owns local row i.
    let owner = i32(localIndex) < ${tm};
    let ownRow = i32(localIndex);
    var lanes : array<f32, ${wgX}> = array<f32, ${wgX}>();
    var laneSums : array<f32, ${wgX}> = array<f32, ${wgX}>();
    var mMax = SLUICE_NEG;
    ${round('rowMax[r]', `for (var l = 0; l < ${wgX}; l++) {
        lanes[l] = red[at + l];
        mMax = max(mMax, lanes[l]);
      }`)}
    var mSum = 0.0;
    ${round('rowSum[r]', `for (var l = 0; l < ${wgX}; l++) {
        laneSums[l] = red[at + l];
        if (lanes[l] > SLUICE_NEG) {
          mSum = mSum + laneSums[l] * exp(lanes[l] - mMax);
        }
      }`)}
    var mArg = 0x7fffffff;
    ${round('bitcast<f32>(rowArg[r])', `for (var l = 0; l < ${wgX}; l++) {
        if (lanes[l] == mMax && lanes[l] > SLUICE_NEG) {
          mArg = min(mArg, bitcast<i32>(red[at + l]));
        }
      }`)}
    ${f.sumZ ? sumRound('mZ', 'rowZ[r]') : 'let mZ = 0.0;'}
    ${f.weightedSumZ ? sumRound('mWZ', 'rowWZ[r]') : 'let mWZ = 0.0;'}
    ${sumRound('mLabel', 'rowLabelZ[r] + rowNaN[r]')}
    var mQ = 0.0;
    ${f.entropy ? round('rowQ[r]', `for (var l = 0; l < ${wgX}; l++) {
        if (lanes[l] > SLUICE_NEG) {
          let d = lanes[l] - mMax;
          mQ = mQ + exp(d) * (red[at + l] + laneSums[l] * d);
        }
      }`) : ''}
    let row = m0 + ownRow;
    if (owner && row < uniforms.numTokens) {
      let base = ((uniforms.splitOffset + split) * uniforms.numTokens + row) * ${PARTIAL_FIELDS};
      result[base] = mMax;
      result[base + 1] = mSum;
      result[base + 2] = f32(select(mArg + uniforms.vocabOffset, -1, mArg == 0x7fffffff));
      result[base + 3] = mZ;
      result[base + 4] = mLabel;
      result[base + 5] = mWZ;
      result[base + 6] = mQ;
    }
  }
`;
  }
}
