/**
 * SluiceExpertCombine for 'webgl': the rows are grouped by token on the host
 * (sourceRows is a small int32 tensor the op's validation has read, and
 * webgl caches it), then one `ExpertCombineProgram` pass writes out [N, H].
 */
import {KernelConfig, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceExpertCombine, SluiceExpertCombineInputs} from '@sluice/core';

import {ExpertCombineProgram} from '../expert_combine_gpu';
import type {MathBackendWebGL} from '../internal';

/**
 * Rows grouped by token (stable), with each entry's slot; token t owns [starts[t], starts[t + 1]).
 * Empty slots (sourceRows -1) get no entry.
 */
function rowsByToken(sourceRows: Int32Array, n: number, k: number) {
  const m = sourceRows.length;
  const starts = new Int32Array(n + 1);
  for (let r = 0; r < m; ++r) if (sourceRows[r] >= 0) ++starts[((sourceRows[r] / k) | 0) + 1];
  for (let t = 0; t < n; ++t) starts[t + 1] += starts[t];
  const next = starts.slice(0, n);
  const kept = starts[n];
  const rowOf = new Int32Array(Math.max(kept, 1)), slotOf = new Int32Array(Math.max(kept, 1));
  for (let r = 0; r < m; ++r) {
    const p = sourceRows[r];
    if (p < 0) continue;
    const at = next[(p / k) | 0]++;
    rowOf[at] = r;
    slotOf[at] = p % k;
  }
  return {starts, rowOf, slotOf};
}

export function sluiceExpertCombineWebGL(args: {inputs: SluiceExpertCombineInputs, backend: MathBackendWebGL}):
    TensorInfo {
  const {inputs: {y, sourceRows, gates}, backend} = args;
  const [m, h] = y.shape;
  const [n, k] = gates.shape;
  if (m === 0 || n === 0 || h === 0) return backend.makeTensorInfo([n, h], 'float32', new Float32Array(n * h));
  const {starts, rowOf, slotOf} = rowsByToken(backend.readSync(sourceRows.dataId) as Int32Array, n, k);
  const maps = [backend.makeTensorInfo([n + 1], 'int32', starts),
                backend.makeTensorInfo([rowOf.length], 'int32', rowOf),
                backend.makeTensorInfo([slotOf.length], 'int32', slotOf)];
  try {
    return backend.runWebGLProgram(new ExpertCombineProgram(n, h, m), [y, gates, ...maps], 'float32');
  } finally {
    maps.forEach(t => backend.disposeIntermediateTensorInfo(t));
  }
}

export const sluiceExpertCombineConfig: KernelConfig = {
  kernelName: SluiceExpertCombine,
  backendName: 'webgl',
  kernelFunc: sluiceExpertCombineWebGL as unknown as KernelFunc,
};
