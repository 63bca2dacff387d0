/**
 * What the webgpu benchmark adds: which adapter ran (named on every row, as
 * software adapters are 100× slower than GPUs), the peak of GPU buffers in
 * use (tf.memory() does not see buffers a kernel allocates internally), and
 * the fused forward's throughput as a fraction of the backend's own matMul.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy} from '@sluice/core';

import type {CceShape} from './cce_shapes';

/** vendor / architecture / device / description of the adapter tfjs's webgpu backend would get. */
export async function describeAdapter(): Promise<string> {
  const gpu = (globalThis as {navigator?: {gpu?: GPU}}).navigator?.gpu;
  const adapter = await gpu?.requestAdapter({powerPreference: 'high-performance'});
  if (adapter == null) {
    return 'no adapter';
  }
  const {vendor, architecture, device, description} = (adapter as GPUAdapter & {info: GPUAdapterInfo}).info;  // @webgpu/types here predates GPUAdapter.info
  return [vendor, architecture, device, description].filter(s => s).join(' / ') || 'unnamed adapter';
}

/** CPU emulations of a GPU: shapes are scaled down on them (DESIGN.md, Benchmarks). */
export function isSoftwareAdapter(adapter: string): boolean {
  return /swiftshader|llvmpipe|lavapipe|warp|software/i.test(adapter);
}

/**
 * Runs `f` inside validation and out-of-memory error scopes and throws the
 * first error either caught: tfjs-webgpu never checks, so past a device
 * limit its programs run on as no-ops (naive CE read back zeros for dE here).
 * Not webgpu: `f` alone.
 */
export async function throwOnWebGPUErrors<T>(f: () => Promise<T>): Promise<T> {
  const device = tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as {device?: GPUDevice}).device : undefined;
  if (device == null) return f();
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  let outcome: {value: T}|{thrown: unknown};
  try {
    outcome = {value: await f()};
  } catch (e) {
    outcome = {thrown: e};
  }
  const outOfMemory = await device.popErrorScope();
  const validation = await device.popErrorScope();
  const error = outOfMemory ?? validation;
  if (error != null) {
    // Dawn's message goes on with advice on requesting higher limits; its first sentence names the limit.
    throw new Error(`WebGPU ${outOfMemory != null ? 'out-of-memory' : 'validation'} error` +
                    `${'value' in outcome ? ' (tfjs raised nothing and returned invalid results)' : ''}: ` +
                    `${error.message.split('. ')[0]}`);
  }
  if ('thrown' in outcome) throw outcome.thrown;
  return outcome.value;
}

interface BufferManagerLike {
  numBytesUsed: number;
  acquireBuffer(...args: unknown[]): unknown;
  releaseBuffer(...args: unknown[]): unknown;
}

/**
 * Runs `f`; `peakBytes` is the most bytes of GPU buffers in use at any moment
 * during it (tensors, kernel scratch, uniforms, staging), above the level
 * before it. NaN when the backend is not webgpu.
 */
export async function gpuPeakBytesDuring<T>(f: () => Promise<T>): Promise<{result: T, peakBytes: number}> {
  const manager = (tf.backend() as unknown as {bufferManager?: BufferManagerLike}).bufferManager;
  if (tf.getBackend() !== 'webgpu' || manager == null) {
    return {result: await f(), peakBytes: NaN};
  }
  const {acquireBuffer, releaseBuffer} = manager;
  const start = manager.numBytesUsed;
  let peak = start;
  manager.acquireBuffer = (...args: unknown[]) => {
    const buffer = acquireBuffer.apply(manager, args);
    peak = Math.max(peak, manager.numBytesUsed);
    return buffer;
  };
  manager.releaseBuffer = (...args: unknown[]) => releaseBuffer.apply(manager, args);
  try {
    return {result: await f(), peakBytes: peak - start};
  } finally {
    manager.acquireBuffer = acquireBuffer;
    manager.releaseBuffer = releaseBuffer;
  }
}

async function bestMs(run: () => tf.Tensor, repeats: number): Promise<number> {
  const warm = run();  // compiles the pipelines
  await warm.data();
  warm.dispose();
  let best = Infinity;
  for (let r = 0; r < repeats; ++r) {
    const start = performance.now();
    const out = run();
    await out.data();
    best = Math.min(best, performance.now() - start);
    out.dispose();
  }
  return best;
}

export interface ThroughputRow {
  matMulMs: number;
  fusedForwardMs: number;
  /** 2·N·D·V FLOP per second, in GFLOP/s. */
  matMulGflops: number;
  fusedGflops: number;
}

/** matMul(E, Cᵀ) against the fused forward (per-token losses) on the same N×D×V. */
export async function forwardThroughput(shape: CceShape, repeats: number): Promise<ThroughputRow> {
  const e = tf.randomNormal([shape.n, shape.d], 0, 1, 'float32', 1) as tf.Tensor2D;
  const c = tf.randomNormal([shape.v, shape.d], 0, 1 / Math.sqrt(shape.d), 'float32', 2) as tf.Tensor2D;
  const labels = tf.randomUniform([shape.n], 0, shape.v, 'int32', 3) as tf.Tensor1D;
  try {
    const matMulMs = await bestMs(() => tf.matMul(e, c, false, true), repeats);
    const fusedForwardMs = await bestMs(() => linearCrossEntropy(e, c, labels, {reduction: 'none'}) as tf.Tensor,
                                        repeats);
    const gflop = 2 * shape.n * shape.d * shape.v / 1e9;
    return {matMulMs, fusedForwardMs, matMulGflops: gflop / (matMulMs / 1e3), fusedGflops: gflop / (fusedForwardMs / 1e3)};
  } finally {
    tf.dispose([e, c, labels]);
  }
}

export function throughputLine(shape: CceShape, t: ThroughputRow, adapter: string): string {
  return `| fused forward vs matMul (N=${shape.n} D=${shape.d} V=${shape.v}) | matMul ${t.matMulMs.toFixed(0)} ms ` +
      `(${t.matMulGflops.toFixed(2)} GFLOP/s) | fused forward ${t.fusedForwardMs.toFixed(0)} ms ` +
      `(${t.fusedGflops.toFixed(2)} GFLOP/s) | ${(100 * t.matMulMs / t.fusedForwardMs).toFixed(0)}% of matMul | ${adapter} |`;
}
