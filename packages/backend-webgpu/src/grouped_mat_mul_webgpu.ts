/**
 * Grouped matmul over expert segments on the shared tiled core (shader_util):
 *   GroupedMatMulProgram      y[r] = x[r] · W[e] (or W[e]ᵀ) for the rows r of
 *                             expert e. The grid holds ceil(M/TM) + E row
 *                             tiles (each expert adds at most one partial
 *                             tile) × ceil(H/TN) column tiles; a workgroup
 *                             finds its expert and rows by walking the
 *                             offsets (summing ceil(count_e / TM)) and the
 *                             surplus tiles exit, so empty and tiny segments
 *                             cost nothing extra.
 *   GroupedWeightGradProgram  dW[e] = x_segᵀ · dy_seg: E × ceil(K/TM) ×
 *                             ceil(H/TN) tiles, each reducing over its
 *                             expert's rows (zeros for an empty expert).
 * Both grids are linear, folded over x, y, z within the dispatch limit, and
 * neighbouring workgroups share a row tile. The per-workgroup segment is
 * read by one thread and shared with workgroupUniformLoad, so the exits and
 * the reduction loop stay in uniform control flow. Deterministic: each output is one thread's fixed-order sum.
 */
import {TensorInfo} from '@tensorflow/tfjs-core';

import type {GpuScratch} from './gpu_scratch';
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {i32} from './uniforms';
import {ACC_DECL, FOLDED_INDEX_SNIPPET, foldedDispatch, TILE, tileCols, tiledMatMulSnippet, tileKey, tileRows,
        workgroupLayout} from './shader_util';

/** Upper bound of the row tiles of M rows in E segments. */
export function groupedRowTiles(m: number, numExperts: number): number {
  return Math.ceil(m / tileRows(TILE)) + numExperts;
}

/** Writes the accumulator's rows [.., rowEnd) × columns [.., cols) of a row-major [*, cols] output at `base`. */
function writeTile(rowEnd: string, cols: string, base: string): string {
  return `
    for (var r = 0; r < ${TILE.rm}; r++) {
      let row = m0 + i32(localId.y) * ${TILE.rm} + r;
      for (var c = 0; c < ${TILE.rn}; c++) {
        let col = n0 + i32(localId.x) * ${TILE.rn} + c;
        if (row < ${rowEnd} && col < ${cols}) {
          result[${base} + row * ${cols} + col] = acc[r][c];
        }
      }
    }`;
}

export class GroupedMatMulProgram implements WebGPUProgram {
  variableNames = ['x', 'W', 'offsets'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = workgroupLayout();
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numExperts : i32, depth : i32, cols : i32, kTiles : i32, rowTiles : i32, colTiles : i32,';

  variableComponents?: number[];

  /**
   * Output [m, h], contracting over `depth`. x and W load as vec4 when
   * their contiguous dimensions (depth; h, or depth when transposed) are
   * multiples of 4.
   */
  constructor(m: number, h: number, depth: number, numExperts: number, private transposeWeights: boolean,
              maxWorkgroups: number) {
    this.outputShape = [m, h];
    this.dispatch = foldedDispatch(Math.ceil(h / tileCols(TILE)) * groupedRowTiles(m, numExperts), maxWorkgroups);
    this.vec4 = depth % 4 === 0 && (transposeWeights || h % 4 === 0);
    if (this.vec4) {
      this.variableComponents = [4, 4, 1];
    }
    this.shaderKey = `sluice_groupedMatMul_${transposeWeights ? 'T' : 'N'}${this.vec4 ? '_v4' : ''}_${tileKey(TILE)}`;
  }

  private vec4: boolean;

  getUserCode(): string {
    const tm = tileRows(TILE), tn = tileCols(TILE);
    // W[e] is [depth, cols], or [cols, depth] when transposed.
    const wIndex = this.transposeWeights ? 'n * uniforms.depth + k' : 'k * uniforms.cols + n';
    return `
  var<private> segExpert : i32;
  var<private> segEnd : i32;
  var<workgroup> segment : vec4<i32>;

  ${this.vec4 ? `
  fn mmA4(m : i32, k : i32) -> vec4<f32> {
    if (m < segEnd && k < uniforms.depth) {
      return x[(m * uniforms.depth + k) / 4];
    }
    return vec4<f32>(0.0);
  }
  fn mmB4(k : i32, n : i32) -> vec4<f32> {
    if (k < uniforms.depth && n < uniforms.cols) {
      return W[(segExpert * uniforms.depth * uniforms.cols + ${wIndex}) / 4];
    }
    return vec4<f32>(0.0);
  }` : `
  fn mmA(m : i32, k : i32) -> f32 {
    if (m < segEnd && k < uniforms.depth) {
      return x[m * uniforms.depth + k];
    }
    return 0.0;
  }
  fn mmB(k : i32, n : i32) -> f32 {
    if (k < uniforms.depth && n < uniforms.cols) {
      return W[segExpert * uniforms.depth * uniforms.cols + ${wIndex}];
    }
    return 0.0;
  }`}
  ${tiledMatMulSnippet(TILE, 'k', this.transposeWeights ? 'k' : 'mn', this.vec4)}
  ${FOLDED_INDEX_SNIPPET}

  ${main()} {
    // Workgroups next to each other share a row tile (and its x rows).
    let index = sluiceFoldedIndex();
    let tile = index / uniforms.colTiles;
    if (localIndex == 0u) {
      // (expert, first row, end row): the tile-th row tile of the segments, or expert -1.
      var found = vec4<i32>(-1, 0, 0, 0);
      var before = 0;
      if (tile < uniforms.rowTiles) {
        for (var e = 0; e < uniforms.numExperts; e++) {
          let start = offsets[e];
          let end = offsets[e + 1];
          let tiles = (max(end - start, 0) + ${tm - 1}) / ${tm};
          if (tile < before + tiles) {
            found = vec4<i32>(e, start + (tile - before) * ${tm}, end, 0);
            break;
          }
          before = before + tiles;
        }
      }
      segment = found;
    }
    let seg = workgroupUniformLoad(&segment);
    if (seg.x < 0) {
      return;
    }
    segExpert = seg.x;
    segEnd = seg.z;
    let m0 = seg.y;
    let n0 = (index - tile * uniforms.colTiles) * ${tn};
    ${ACC_DECL}
    mmRun(&acc, m0, n0, 0, uniforms.kTiles);
    ${writeTile('segEnd', 'uniforms.cols', '0')}
  }
`;
  }
}

export class GroupedWeightGradProgram implements WebGPUProgram {
  variableNames = ['x', 'dy', 'offsets'];
  outputShape: number[];
  shaderKey = `sluice_groupedMatMulWeightGrad_${tileKey(TILE)}`;
  dispatchLayout = workgroupLayout();
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [TILE.wgX, TILE.wgY, 1];
  uniforms = 'numExperts : i32, depth : i32, cols : i32, depthTiles : i32, colTiles : i32,';

  variableComponents?: number[];
  private vec4: boolean;

  /** Output dW [E, depth, cols] of x [M, depth], dy [M, cols]; vec4 loads when depth and cols are multiples of 4. */
  constructor(numExperts: number, depth: number, cols: number, maxWorkgroups: number) {
    this.outputShape = [numExperts, depth, cols];
    this.vec4 = depth % 4 === 0 && cols % 4 === 0;
    if (this.vec4) {
      this.variableComponents = [4, 4, 1];
      this.shaderKey += '_v4';
    }
    this.dispatch = foldedDispatch(Math.ceil(cols / tileCols(TILE)) * numExperts * Math.ceil(depth / tileRows(TILE)),
                                   maxWorkgroups);
  }

  getUserCode(): string {
    const tm = tileRows(TILE), tn = tileCols(TILE);
    // A(m = depth index, k = row of the segment), B(k = row, n = column).
    return `
  var<private> segStart : i32;
  var<private> segRows : i32;
  var<workgroup> segment : vec4<i32>;

  ${this.vec4 ? `
  fn mmA4(m : i32, k : i32) -> vec4<f32> {
    if (m < uniforms.depth && k < segRows) {
      return x[((segStart + k) * uniforms.depth + m) / 4];
    }
    return vec4<f32>(0.0);
  }
  fn mmB4(k : i32, n : i32) -> vec4<f32> {
    if (k < segRows && n < uniforms.cols) {
      return dy[((segStart + k) * uniforms.cols + n) / 4];
    }
    return vec4<f32>(0.0);
  }` : `
  fn mmA(m : i32, k : i32) -> f32 {
    if (m < uniforms.depth && k < segRows) {
      return x[(segStart + k) * uniforms.depth + m];
    }
    return 0.0;
  }
  fn mmB(k : i32, n : i32) -> f32 {
    if (k < segRows && n < uniforms.cols) {
      return dy[(segStart + k) * uniforms.cols + n];
    }
    return 0.0;
  }`}
  ${tiledMatMulSnippet(TILE, 'mn', 'mn', this.vec4)}
  ${FOLDED_INDEX_SNIPPET}

  ${main()} {
    let index = sluiceFoldedIndex();
    let g = index / uniforms.colTiles;
    if (localIndex == 0u) {
      // (expert, first row, rows, depth tile); expert -1 for surplus workgroups of the folded grid.
      let e = g / uniforms.depthTiles;
      var found = vec4<i32>(-1, 0, 0, 0);
      if (e < uniforms.numExperts) {
        let start = offsets[e];
        found = vec4<i32>(e, start, max(offsets[e + 1] - start, 0), g - e * uniforms.depthTiles);
      }
      segment = found;
    }
    let seg = workgroupUniformLoad(&segment);
    if (seg.x < 0) {
      return;
    }
    segStart = seg.y;
    segRows = seg.z;
    let m0 = seg.w * ${tm};
    let n0 = (index - g * uniforms.colTiles) * ${tn};
    ${ACC_DECL}
    mmRun(&acc, m0, n0, 0, (seg.z + ${TILE.tk - 1}) / ${TILE.tk});
    ${writeTile('uniforms.depth', 'uniforms.cols', 'seg.x * uniforms.depth * uniforms.cols')}
  }
`;
  }
}

/**
 * y [M, cols] = x [M, depth] · W[e] per expert segment, W [E, depth, cols]
 * (or [E, cols, depth] when transposed), into an output of the call.
 * Empty shapes run no program.
 */
export function runGroupedMatMul(scratch: GpuScratch, x: TensorInfo, weights: TensorInfo, offsets: TensorInfo,
                              transposeWeights: boolean): TensorInfo {
  const [m, depth] = x.shape;
  const [e, a, b] = weights.shape;
  const cols = transposeWeights ? a : b;
  if (m === 0 || cols === 0 || depth === 0) {
    return scratch.outputFromValues([m, cols], 'float32');
  }
  scratch.assertBindable('x', x.shape);
  scratch.assertBindable('weights', weights.shape);
  const y = scratch.allocate([m, cols], 'float32', true);
  scratch.assertBindable('the output', y.shape);
  const program = new GroupedMatMulProgram(m, cols, depth, e, transposeWeights, scratch.budget.maxWorkgroups);
  scratch.backend.runWebGPUProgram(program, [x, weights, offsets], 'float32',
                                   [i32(e), i32(depth), i32(cols), i32(Math.ceil(depth / TILE.tk)),
                                    i32(groupedRowTiles(m, e)), i32(Math.ceil(cols / tileCols(TILE)))],
                                   y);
  return y;
}
