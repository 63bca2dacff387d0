/**
 * Dropless expert dispatch as a stable counting sort of the P = N·k
 * (token, slot) pairs, in four programs (each writes one buffer):
 *   'count'   per block of DISPATCH_BLOCK pairs, per-bucket counts in
 *             workgroup-memory atomics → counts [buckets, blocks];
 *   'scan'    per bucket, an exclusive scan over its blocks, looping over
 *             chunks of blocks → prefix [buckets, blocks + 1] (last column:
 *             the bucket's total);
 *   'offsets' one workgroup scanning the totals in chunks → offsets [E + 1];
 *   'scatter' per block: position = offsets[b] + prefix[b, block] + the
 *             number of earlier pairs of the block in the same bucket
 *             (from a workgroup copy of the block's buckets) → sourceRows.
 * Then a flat gather copies the rows. Buckets are the E experts plus one
 * for out-of-range indices (never valid, but unchecked on the GPU): such
 * pairs sort after every expert, past offsets[E], and their rows read NaN.
 * Every step is deterministic (no order-dependent atomics on the output).
 */
import {FlatProgram} from './flat_program';
import {getMainHeaderString as main, WebGPUProgram} from './internal';
import {FOLDED_INDEX_SNIPPET, foldedDispatch, workgroupLayout, workgroupScanSnippet} from './shader_util';

/** Pairs per block of the count and scatter programs (one thread each). */
export const DISPATCH_BLOCK = 256;
/** Threads of the scan programs, which loop over chunks of this many values. */
const SCAN_THREADS = 256;
/** Buckets per pass of the count program's workgroup histogram (4 KiB of workgroup memory). */
const HISTOGRAM_CHUNK = 1024;

/** Uniforms every dispatch program gets, in this order. */
export const DISPATCH_UNIFORMS = 'numPairs : i32, numExperts : i32, numBlocks : i32, k : i32, dim : i32,';

/** The bucket of pair p: its expert, or numExperts when the index is out of range. */
const BUCKET_SNIPPET = `
  fn bucketOf(p : i32) -> i32 {
    let e = indices[p];
    return select(uniforms.numExperts, e, e >= 0 && e < uniforms.numExperts);
  }
`;

export type DispatchStep = 'count'|'scan'|'offsets'|'scatter';

export class ExpertDispatchProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  // Workgroups, not output elements, map to blocks / buckets: main() takes no index.
  dispatchLayout = workgroupLayout();
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [DISPATCH_BLOCK, 1, 1];
  uniforms = DISPATCH_UNIFORMS;

  constructor(private step: DispatchStep, outShape: number[], numBlocks: number, numExperts: number,
              maxWorkgroups: number) {
    this.variableNames = {
      count: ['indices'],
      scan: ['counts'],
      offsets: ['prefix'],
      scatter: ['indices', 'offsets', 'prefix'],
    }[step];
    this.outputShape = outShape;
    const workgroups = {count: numBlocks, scan: numExperts + 1, offsets: 1, scatter: numBlocks}[step];
    this.dispatch = foldedDispatch(workgroups, maxWorkgroups);
    this.shaderKey = `sluice_expertDispatch_${step}`;
  }

  getUserCode(): string {
    switch (this.step) {
      case 'count':
        return this.countCode();
      case 'scan':
        return this.scanCode();
      case 'offsets':
        return this.offsetsCode();
      default:
        return this.scatterCode();
    }
  }

  private countCode(): string {
    return `
  ${FOLDED_INDEX_SNIPPET}
  ${BUCKET_SNIPPET}
  var<workgroup> histogram : array<atomic<u32>, ${HISTOGRAM_CHUNK}>;

  ${main()} {
    let t = i32(localIndex);
    let b = sluiceFoldedIndex();
    let live = b < uniforms.numBlocks;
    let p = b * ${DISPATCH_BLOCK} + t;
    var bucket = -1;
    if (live && p < uniforms.numPairs) {
      bucket = bucketOf(p);
    }
    let buckets = uniforms.numExperts + 1;
    // Barriers only in uniform control flow: the chunk loop runs on uniforms.
    let chunks = (buckets + ${HISTOGRAM_CHUNK - 1}) / ${HISTOGRAM_CHUNK};
    for (var c = 0; c < chunks; c++) {
      for (var i = t; i < ${HISTOGRAM_CHUNK}; i = i + ${DISPATCH_BLOCK}) {
        atomicStore(&histogram[i], 0u);
      }
      workgroupBarrier();
      let local = bucket - c * ${HISTOGRAM_CHUNK};
      if (local >= 0 && local < ${HISTOGRAM_CHUNK}) {
        atomicAdd(&histogram[local], 1u);
      }
      workgroupBarrier();
      for (var i = t; i < ${HISTOGRAM_CHUNK}; i = i + ${DISPATCH_BLOCK}) {
        let e = c * ${HISTOGRAM_CHUNK} + i;
        if (live && e < buckets) {
          result[e * uniforms.numBlocks + b] = i32(atomicLoad(&histogram[i]));
        }
      }
      workgroupBarrier();
    }
  }
`;
  }

  private scanCode(): string {
    return `
  ${FOLDED_INDEX_SNIPPET}
  ${workgroupScanSnippet(SCAN_THREADS)}

  ${main()} {
    let t = i32(localIndex);
    let e = sluiceFoldedIndex();
    let live = e <= uniforms.numExperts;
    let width = uniforms.numBlocks + 1;
    var carry = 0;
    for (var j0 = 0; j0 < width; j0 = j0 + ${SCAN_THREADS}) {
      let j = j0 + t;
      var v = 0;
      if (live && j < uniforms.numBlocks) {
        v = counts[e * uniforms.numBlocks + j];
      }
      let inclusive = sluiceScanInclusive(t, v);
      if (live && j < width) {
        result[e * width + j] = carry + inclusive - v;
      }
      carry = carry + sluiceScan[${SCAN_THREADS - 1}];
      workgroupBarrier();
    }
  }
`;
  }

  private offsetsCode(): string {
    return `
  ${workgroupScanSnippet(SCAN_THREADS)}

  ${main()} {
    let t = i32(localIndex);
    let width = uniforms.numBlocks + 1;
    var carry = 0;
    for (var e0 = 0; e0 <= uniforms.numExperts; e0 = e0 + ${SCAN_THREADS}) {
      let e = e0 + t;
      var v = 0;
      if (e < uniforms.numExperts) {
        v = prefix[e * width + uniforms.numBlocks];
      }
      let inclusive = sluiceScanInclusive(t, v);
      if (e <= uniforms.numExperts) {
        result[e] = carry + inclusive - v;
      }
      carry = carry + sluiceScan[${SCAN_THREADS - 1}];
      workgroupBarrier();
    }
  }
`;
  }

  private scatterCode(): string {
    return `
  ${FOLDED_INDEX_SNIPPET}
  ${BUCKET_SNIPPET}
  var<workgroup> blockBuckets : array<i32, ${DISPATCH_BLOCK}>;

  ${main()} {
    let t = i32(localIndex);
    let b = sluiceFoldedIndex();
    let p = b * ${DISPATCH_BLOCK} + t;
    let live = b < uniforms.numBlocks && p < uniforms.numPairs;
    var bucket = -1;
    if (live) {
      bucket = bucketOf(p);
    }
    blockBuckets[t] = bucket;
    workgroupBarrier();
    if (live) {
      var rank = 0;
      for (var j = 0; j < t; j++) {
        rank = rank + select(0, 1, blockBuckets[j] == bucket);
      }
      // offsets has E + 1 entries: the out-of-range bucket starts at offsets[E].
      let position = offsets[bucket] + prefix[bucket * (uniforms.numBlocks + 1) + b] + rank;
      result[position] = p;
    }
  }
`;
  }
}

/**
 * dispatched[r, :] = x[sourceRows[r] / k, :], flat over the M·D outputs;
 * rows past offsets[E] (pairs with an out-of-range expert) are NaN.
 */
export class DispatchGatherProgram extends FlatProgram {
  variableNames = ['x', 'rows', 'offsets'];
  shaderKey = 'sluice_expertDispatch_gather';
  size = true;
  uniforms = DISPATCH_UNIFORMS;

  constructor(m: number, d: number) {
    super([m, d]);
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    if (index < uniforms.size) {
      let r = index / uniforms.dim;
      let c = index - r * uniforms.dim;
      let token = rows[r] / uniforms.k;
      let value = x[token * uniforms.dim + c];
      result[index] = select(value, uniforms.NAN, r >= offsets[uniforms.numExperts]);
    }
  }
`;
  }
}
