/**
 * Buffers of one kernel call: the intermediates it allocates (freed when it
 * ends), the outputs it returns (freed too if it fails, so no half-written
 * output escapes), and row views that keep every binding within the device's
 * maxStorageBufferBindingSize by copying row ranges when a tensor is larger.
 */
import {DataType, TensorInfo, util} from '@tensorflow/tfjs-core';

import {WebGPUBackend} from './internal';
import type {DeviceBudget} from './device_budget';

/** Rows [offset, offset + count) of `info` as a program binds them. */
export interface RowView {
  info: TensorInfo;
  offset: number;
}

/** Columns [offset, offset + count) of a rank-2 `info` whose rows are `stride` long. */
export interface ColumnView extends RowView {
  stride: number;
}

function bytesOf(shape: number[]): number {
  return util.sizeFromShape(shape) * 4;
}

function resourceOf(backend: WebGPUBackend, info: TensorInfo): GPUBuffer {
  backend.uploadToGPU(info.dataId);
  const resource = backend.tensorMap.get(info.dataId).resource;
  if (!(resource instanceof GPUBuffer)) {
    throw new Error('expected a buffer-backed tensor');
  }
  return resource;
}

export class GpuScratch {
  private temps = new Set<TensorInfo>();
  private outputs: TensorInfo[] = [];

  constructor(readonly backend: WebGPUBackend, readonly budget: DeviceBudget) {}

  /** A new uninitialised GPU tensor; outputs are handed to the caller on success. */
  allocate(shape: number[], dtype: DataType, output = false): TensorInfo {
    const bytes = bytesOf(shape);
    if (bytes > this.budget.maxBufferBytes) {
      throw new Error(`a [${shape.join(', ')}] ${dtype} buffer (${bytes} bytes) exceeds the device's ` +
                      `maxBufferSize (${this.budget.maxBufferBytes} bytes)`);
    }
    const info = this.backend.makeTensorInfo(shape, dtype);
    if (output) {
      this.outputs.push(info);
    } else {
      this.temps.add(info);
    }
    if (bytes > 0) {
      this.backend.uploadToGPU(info.dataId);
    }
    return info;
  }

  /** An output whose values are known on the CPU (zeros unless given; empty). */
  outputFromValues(shape: number[], dtype: DataType, values?: Float32Array|Int32Array): TensorInfo {
    const info = this.backend.makeTensorInfo(shape, dtype, values ?? util.getTypedArrayFromDType(dtype as 'float32',
                                                                                                 util.sizeFromShape(shape)));
    this.outputs.push(info);
    return info;
  }

  fitsBinding(shape: number[]): boolean {
    return bytesOf(shape) <= this.budget.bindingBytes;
  }

  /** For kernels that bind whole tensors (the sparse-MoE ones): one past a storage binding is a clear error. */
  assertBindable(name: string, shape: number[]) {
    if (!this.fitsBinding(shape)) {
      throw new Error(`${name} [${shape.join(', ')}] (${bytesOf(shape)} bytes) exceeds the storage ` +
                      `binding limit (${this.budget.bindingBytes} bytes)`);
    }
  }

  /** Rows of an input: the tensor itself when it fits one binding, else a copy of the rows. */
  rows(info: TensorInfo, start: number, count: number): RowView {
    if (this.fitsBinding(info.shape)) {
      return {info, offset: start};
    }
    const copy = this.allocate([count, ...info.shape.slice(1)], info.dtype);
    this.copyRows(info, start, copy, 0, count);
    return {info: copy, offset: 0};
  }

  /**
   * Columns of a rank-2 input (a [D, V] classifier's classes): the tensor
   * itself when it fits one binding, else a [rows, count] copy made of one
   * contiguous run per row (a copy, not a transpose).
   */
  columns(info: TensorInfo, start: number, count: number): ColumnView {
    const [rows, cols] = info.shape;
    if (this.fitsBinding(info.shape)) {
      return {info, offset: start, stride: cols};
    }
    const copy = this.allocate([rows, count], info.dtype);
    this.copyColumns(info, start, copy, 0, count);
    return {info: copy, offset: 0, stride: count};
  }

  /** Columns [srcCol, srcCol + count) of every row of `src` to columns [dstCol, …) of `dst` (same row count). */
  copyColumns(src: TensorInfo, srcCol: number, dst: TensorInfo, dstCol: number, count: number) {
    const rows = src.shape[0], srcCols = src.shape[1], dstCols = dst.shape[1];
    if (count === 0 || rows === 0) {
      return;
    }
    const from = resourceOf(this.backend, src), to = resourceOf(this.backend, dst);
    this.encode(encoder => {
      for (let r = 0; r < rows; ++r) {
        encoder.copyBufferToBuffer(from, (r * srcCols + srcCol) * 4, to, (r * dstCols + dstCol) * 4, count * 4);
      }
    });
  }

  /** A small intermediate with known values (uploaded when first bound). */
  fromValues(values: Float32Array, shape: number[]): TensorInfo {
    const info = this.backend.makeTensorInfo(shape, 'float32', values);
    this.temps.add(info);
    return info;
  }

  /** Frees an intermediate (a view's copy included) early; inputs and outputs are left alone. */
  release(info: TensorInfo) {
    if (this.temps.delete(info)) {
      this.backend.disposeData(info.dataId);
    }
  }

  copyRows(src: TensorInfo, srcRow: number, dst: TensorInfo, dstRow: number, rows: number) {
    const rowElements = util.sizeFromShape(src.shape.slice(1));
    this.copyElements(src, srcRow * rowElements, dst, dstRow * rowElements, rows * rowElements);
  }

  copyElements(src: TensorInfo, srcStart: number, dst: TensorInfo, dstStart: number, count: number) {
    if (count === 0) {
      return;
    }
    const from = resourceOf(this.backend, src), to = resourceOf(this.backend, dst);
    this.encode(encoder => encoder.copyBufferToBuffer(from, srcStart * 4, to, dstStart * 4, count * 4));
  }

  /** Zero-fills a tensor allocated here (accumulation targets of atomic adds). */
  clear(info: TensorInfo) {
    const buffer = resourceOf(this.backend, info);
    this.encode(encoder => encoder.clearBuffer(buffer));
  }

  /**
   * Records `f` in an encoder of our own. tfjs records into its own encoder;
   * submitting that first orders `f` after the dispatches already recorded.
   */
  private encode(f: (encoder: GPUCommandEncoder) => void) {
    this.flush();
    const encoder = this.backend.device.createCommandEncoder();
    f(encoder);
    this.backend.device.queue.submit([encoder.finish()]);
  }

  /** Submits recorded work, which also returns released intermediates to the pool. */
  flush() {
    this.backend.ensureCommandEncoderReady();
    this.backend.endComputePassEncoder();
    this.backend.submitQueue();
  }

  /** Success: intermediates go, outputs stay with the caller. */
  finish(): TensorInfo[] {
    for (const t of this.temps) {
      this.backend.disposeData(t.dataId);
    }
    this.temps.clear();
    return this.outputs;
  }

  /** Failure: everything goes. */
  abandon() {
    this.finish();
    for (const t of this.outputs) {
      this.backend.disposeData(t.dataId);
    }
    this.outputs = [];
  }
}

/** An output filled range by range: `target` gives where a program writes a range, `commit` puts it in place. */
export interface OutputSink {
  readonly info: TensorInfo;
  target(start: number, count: number): RowView;
  commit(view: RowView, start: number, count: number): void;
}

/**
 * An output of `shape` filled in row ranges: programs write straight into it
 * when it fits one binding, otherwise into a per-range buffer that is then
 * copied into place.
 */
export class RowSink implements OutputSink {
  readonly info: TensorInfo;
  private direct: boolean;

  constructor(private scratch: GpuScratch, shape: number[], dtype: DataType) {
    this.info = scratch.allocate(shape, dtype, true);
    this.direct = scratch.fitsBinding(shape);
  }

  target(start: number, count: number): RowView {
    if (this.direct) {
      return {info: this.info, offset: start};
    }
    return {info: this.scratch.allocate([count, ...this.info.shape.slice(1)], this.info.dtype), offset: 0};
  }

  commit(view: RowView, start: number, count: number) {
    if (view.info !== this.info) {
      this.scratch.copyRows(view.info, 0, this.info, start, count);
      this.scratch.release(view.info);
    }
  }
}

/**
 * An output of rank 2 filled in column ranges (a [D, V] gradient, class
 * block by class block): programs write straight into it when it fits one
 * binding, otherwise into a [rows, count] buffer then copied into place.
 */
export class ColumnSink implements OutputSink {
  readonly info: TensorInfo;
  private direct: boolean;

  constructor(private scratch: GpuScratch, shape: number[]) {
    this.info = scratch.allocate(shape, 'float32', true);
    this.direct = scratch.fitsBinding(shape);
  }

  target(start: number, count: number): ColumnView {
    if (this.direct) {
      return {info: this.info, offset: start, stride: this.info.shape[1]};
    }
    return {info: this.scratch.allocate([this.info.shape[0], count], 'float32'), offset: 0, stride: count};
  }

  commit(view: RowView, start: number, count: number) {
    if (view.info !== this.info) {
      this.scratch.copyColumns(view.info, 0, this.info, start, count);
      this.scratch.release(view.info);
    }
  }
}

const watched = new WeakSet<GPUDevice>();
const lost = new WeakMap<GPUDevice, string>();

/**
 * Runs a kernel body. A lost device or any failure (a limit, an allocation)
 * becomes an Error naming the kernel and the shape attempted, after every
 * buffer of the call, outputs included, has been released.
 */
export function runGuarded(backend: WebGPUBackend, kernel: string, shape: string, budget: () => DeviceBudget,
                           body: (scratch: GpuScratch) => TensorInfo[]): TensorInfo[] {
  const device = backend.device;
  if (!watched.has(device)) {
    watched.add(device);
    device.lost.then(info => lost.set(device, `${info.reason}: ${info.message}`), () => undefined);
  }
  const lostReason = lost.get(device);
  if (lostReason != null) {
    throw new Error(`${kernel} (webgpu) cannot run for ${shape}: the GPU device was lost (${lostReason})`);
  }
  let scratch: GpuScratch|undefined;
  try {
    scratch = new GpuScratch(backend, budget());
    const outputs = body(scratch);
    scratch.finish();
    return outputs;
  } catch (err) {
    scratch?.abandon();
    throw new Error(`${kernel} (webgpu) failed for ${shape}: ${(err as Error).message}`);
  }
}
