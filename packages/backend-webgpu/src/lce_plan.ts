/**
 * How a linear cross-entropy call is cut to fit the device: token chunks and
 * vocabulary ranges such that every binding stays within
 * maxStorageBufferBindingSize and every dispatch dimension within
 * maxComputeWorkgroupsPerDimension, whatever N and V are.
 */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import {ranges} from '@sluice/core/internal';

import {DeviceBudget, deviceBudget} from './device_budget';
import {ColumnView, GpuScratch, runGuarded} from './gpu_scratch';
import type {WebGPUBackend} from './internal';
import type {ClassifierLayout} from './shader_util';
import {PARTIAL_FIELDS} from './linear_cross_entropy_webgpu';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {TILE, tileCols, tileRows} from './shader_util';

/** Workgroups the forward aims for, so that small N still fills a large GPU. */
const TARGET_FORWARD_WORKGROUPS = 1024;
const MAX_SPLITS = 4096;

/**
 * Tokens per chunk: one dispatch of token tiles, and [chunk, D] rows in one
 * binding, as are the chunk's partial records and token coefficients.
 */
export function tokenChunk(n: number, d: number, b: DeviceBudget): number {
  const byDispatch = b.maxWorkgroups * tileRows(TILE);
  const byBinding = Math.floor(b.bindingBytes / (4 * Math.max(d, PARTIAL_FIELDS, TOKEN_FIELDS)));
  const chunk = Math.min(n, byDispatch, byBinding);
  if (chunk < 1) {
    throw new Error(`one row of ${d} floats exceeds the storage binding limit (${b.bindingBytes} bytes)`);
  }
  return chunk;
}

/** Tokens per forward chunk: also one partial record per range and token within a binding. */
export function forwardTokenChunk(n: number, d: number, v: number, rangeRows: number, b: DeviceBudget): number {
  const records = Math.ceil(v / rangeRows) * PARTIAL_FIELDS * 4;
  const chunk = Math.min(tokenChunk(n, d, b), Math.floor(b.bindingBytes / records));
  if (chunk < 1) {
    throw new Error(`the forward's partial results for one token (${records} bytes) exceed the storage binding ` +
                    `limit (${b.bindingBytes} bytes)`);
  }
  return chunk;
}

/** Classifier rows per range: all of V when [V, D] and [V] fit one binding. */
export function classifierRange(v: number, d: number, b: DeviceBudget): number {
  const rows = Math.min(v, Math.floor(b.bindingBytes / (4 * Math.max(d, 1))));
  if (rows < 1) {
    throw new Error(`one classifier row of ${d} floats exceeds the storage binding limit (${b.bindingBytes} bytes)`);
  }
  return rows;
}

export interface ForwardSplits {
  /** Vocabulary columns per split (one workgroup row of the dispatch). */
  splitSize: number;
  /** [start, count, first split index] per classifier range. */
  ranges: Array<[number, number, number]>;
  total: number;
}

/**
 * Vocabulary splits of the forward: enough workgroups to fill the device
 * (or the caller's vocabChunk), few enough that the [splits, tokens,
 * PARTIAL_FIELDS] partials fit one binding and each range's splits fit one dispatch row.
 */
export function forwardSplits(n: number, v: number, rangeRows: number, chunkTokens: number, vocabChunk: number,
                              b: DeviceBudget): ForwardSplits {
  const tn = tileCols(TILE);
  let splitSize: number;
  if (vocabChunk > 0) {
    splitSize = Math.min(vocabChunk, v);
  } else {
    const tokenTiles = Math.ceil(Math.min(n, chunkTokens) / tileRows(TILE));
    const target = Math.max(1, Math.min(64, Math.ceil(TARGET_FORWARD_WORKGROUPS / tokenTiles)));
    splitSize = Math.max(tn, Math.ceil(Math.ceil(v / target) / tn) * tn);
  }
  for (;;) {
    const rs = ranges(v, rangeRows);
    let total = 0;
    const withOffsets: Array<[number, number, number]> = [];
    let maxPerRange = 0;
    for (const [start, count] of rs) {
      const splits = Math.ceil(count / splitSize);
      withOffsets.push([start, count, total]);
      total += splits;
      maxPerRange = Math.max(maxPerRange, splits);
    }
    const partialBytes = total * chunkTokens * PARTIAL_FIELDS * 4;
    if ((maxPerRange <= b.maxWorkgroups && partialBytes <= b.bindingBytes && total <= MAX_SPLITS) ||
        splitSize >= rangeRows) {
      if (partialBytes > b.bindingBytes) {
        throw new Error(`the forward's partial results (${partialBytes} bytes) exceed the storage binding limit`);
      }
      return {splitSize, ranges: withOffsets, total};
    }
    splitSize *= 2;
  }
}

/** Vocabulary columns per backward block: the dz scratch [tokens, block] within its budget and limits. */
export function gradBlock(v: number, d: number, chunkTokens: number, vocabChunk: number, b: DeviceBudget): number {
  const tn = tileCols(TILE);
  let block = vocabChunk > 0 ? vocabChunk :
                               Math.max(tn, Math.floor(b.gradBlockBytes / (4 * chunkTokens) / tn) * tn);
  block = Math.min(block, v, Math.floor(b.bindingBytes / (4 * Math.max(d, 1))), b.maxWorkgroups * tn);
  // The dz block and its tile flags share one binding.
  while (block > 1 && (chunkTokens * block + Math.ceil(chunkTokens / tileRows(TILE)) * Math.ceil(block / tn)) * 4 >
                          b.bindingBytes) {
    block = Math.floor(block / 2);
  }
  return Math.max(block, 1);
}

/** V: the classifier's classes in either layout ([V, D] or [D, V]). */
export function vocabOf(classifier: TensorInfo, layout: ClassifierLayout): number {
  return layout === 'dv' ? classifier.shape[1] : classifier.shape[0];
}

/** The shape an error message names: what was attempted. */
export function lceShape(inputs: {embeddings: TensorInfo, classifier: TensorInfo}, layout: ClassifierLayout): string {
  const [n, d] = inputs.embeddings.shape;
  return `N=${n}, D=${d}, V=${vocabOf(inputs.classifier, layout)}${layout === 'dv' ? ' (classifier [D, V])' : ''}`;
}

/**
 * Classes [start, start + count) of the classifier as a program binds them
 * (uniforms cOffset = offset, cStride = stride; see `classifierAt`): rows of
 * [V, D], or columns of [D, V] (copied per row when the whole does not fit a
 * binding; never transposed).
 */
export function classifierView(scratch: GpuScratch, c: TensorInfo, layout: ClassifierLayout, start: number,
                               count: number): ColumnView {
  if (layout === 'dv') {
    return scratch.columns(c, start, count);
  }
  return {...scratch.rows(c, start, count), stride: c.shape[1]};
}

/**
 * The webgpu config of a linear cross-entropy kernel: `body` runs guarded
 * (`runGuarded`: intermediates freed and the shape named on failure).
 */
export function lceKernelConfig<I extends {embeddings: TensorInfo, classifier: TensorInfo},
                                A extends {classifierLayout: ClassifierLayout}>(
    kernelName: string, body: (scratch: GpuScratch, inputs: I, attrs: A) => TensorInfo[]): KernelConfig {
  return {
    kernelName,
    backendName: 'webgpu',
    kernelFunc: ({inputs, backend, attrs}) => {
      const typed = inputs as unknown as I, typedAttrs = attrs as unknown as A;
      const webgpu = backend as WebGPUBackend;
      return runGuarded(webgpu, kernelName, lceShape(typed, typedAttrs.classifierLayout), () => deviceBudget(webgpu),
                        scratch => body(scratch, typed, typedAttrs));
    },
  };
}
