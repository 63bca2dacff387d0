/**
 * What a webgl benchmark adds: the peak bytes of textures in use, observed at
 * every change of the backend's counter (kernel scratch never becomes a
 * tensor, so only the texture count sees it). NaN when the backend is not
 * webgl. Pair with WEBGL_DELETE_TEXTURE_THRESHOLD = 0 so freed textures are
 * deleted rather than pooled.
 */
import * as tf from '@tensorflow/tfjs-core';

interface WebGLBackendLike {
  numBytesInGPU: number;
}

/** Peak bytes of webgl textures in use while `f` runs, above the level before it. */
export async function texturePeakDuring<T>(f: () => Promise<T>): Promise<{result: T, peakBytes: number}> {
  const backend = tf.backend() as unknown as WebGLBackendLike;
  if (tf.getBackend() !== 'webgl') return {result: await f(), peakBytes: NaN};
  let value = backend.numBytesInGPU;
  const start = value;
  let peak = value;
  Object.defineProperty(backend, 'numBytesInGPU', {
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
    delete (backend as unknown as Record<string, unknown>).numBytesInGPU;
    backend.numBytesInGPU = value;
  }
}
