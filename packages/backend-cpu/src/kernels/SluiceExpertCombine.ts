import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import type {MathBackendCPU} from '@tensorflow/tfjs-backend-cpu';
import {SluiceExpertCombine, SluiceExpertCombineInputs} from '@sluice/core';

import {axpy} from './lce_tiles';

/** out [N, H]: each row of y added into its token, scaled by its pair's gate; empty slots (-1) skipped. */
export function sluiceExpertCombine(args: {inputs: SluiceExpertCombineInputs, backend: MathBackendCPU}): TensorInfo {
  const {inputs: {y, sourceRows, gates}, backend} = args;
  const [m, h] = y.shape;
  const [n, k] = gates.shape;
  const read = (t: TensorInfo) => backend.data.get(t.dataId).values;
  const yv = read(y) as Float32Array, rows = read(sourceRows) as Int32Array, g = read(gates) as Float32Array;
  const out = new Float32Array(n * h);
  for (let r = 0; r < m; ++r) {
    const p = rows[r];
    if (p < 0) continue;
    axpy(out, ((p / k) | 0) * h, g[p], yv, r * h, h);
  }
  return backend.makeTensorInfo([n, h], 'float32', out);
}

export const sluiceExpertCombineConfig: KernelConfig = {
  kernelName: SluiceExpertCombine,
  backendName: 'cpu',
  kernelFunc: sluiceExpertCombine as unknown as KernelFunc,
};
