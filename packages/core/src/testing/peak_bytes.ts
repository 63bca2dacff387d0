/**
 * High-water mark of the bytes tfjs tracks, observed at every change.
 * `tf.profile` samples `numBytes` only after each top-level kernel, so it
 * misses what a kernel allocates and frees inside itself: tfjs-node kernels
 * composing TensorFlow ops, or any kernel calling other kernels. Free of
 * jasmine, so the benchmarks import this file directly.
 */
import {backend, engine, getBackend} from '@tensorflow/tfjs-core';

interface EngineState {
  numBytes: number;
}

/** Runs `f`; `peakBytes` is the most tracked bytes at any moment during it, above the level before it. */
export async function peakBytesDuring<T>(f: () => T | Promise<T>): Promise<{result: T, peakBytes: number}> {
  const state = (engine() as unknown as {state: EngineState}).state;
  const outer = Object.getOwnPropertyDescriptor(state, 'numBytes')!;
  let value = state.numBytes;
  const start = value;
  let peak = value;
  Object.defineProperty(state, 'numBytes', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (bytes: number) => {
      value = bytes;
      peak = Math.max(peak, bytes);
      outer.set?.(bytes);  // a measurement around this one keeps seeing every change
    },
  });
  try {
    return {result: await f(), peakBytes: peak - start};
  } finally {
    Object.defineProperty(state, 'numBytes', outer.get ? outer : {...outer, value});
  }
}

/**
 * Runs `f`; `peakBytes` is the most bytes of webgl textures in use at any
 * moment during it, above the level before it (the backend's own counter,
 * which tf.memory() samples only between kernels: kernel scratch never
 * becomes a tensor, so only this counter sees it). NaN when the backend is
 * not webgl. Pair with WEBGL_DELETE_TEXTURE_THRESHOLD = 0 so freed textures
 * are deleted rather than pooled.
 */
export async function texturePeakBytesDuring<T>(f: () => Promise<T>): Promise<{result: T, peakBytes: number}> {
  if (getBackend() !== 'webgl') return {result: await f(), peakBytes: NaN};
  const webgl = backend() as unknown as {numBytesInGPU: number};
  let value = webgl.numBytesInGPU;
  const start = value;
  let peak = value;
  Object.defineProperty(webgl, 'numBytesInGPU', {
    configurable: true, enumerable: true,
    get: () => value,
    set: (bytes: number) => {
      value = bytes;
      peak = Math.max(peak, bytes);
    },
  });
  try {
    return {result: await f(), peakBytes: peak - start};
  } finally {
    Object.defineProperty(webgl, 'numBytesInGPU', {configurable: true, enumerable: true, writable: true, value});
  }
}
