/**
 * The host side of the atomic backward (`LceGradAtomicProgram`); its float32
 * accumulation order (atomic adds: not deterministic) is stated in that file.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';

import type {GpuScratch} from './gpu_scratch';
import type {GradCall} from './kernels/SluiceLinearCrossEntropyGrad';
import {ATOMIC_TILE, LceGradAtomicProgram} from './lce_grad_atomic_webgpu';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {tileCols, tileRows} from './shader_util';

import {f32, i32} from './uniforms';

/**
 * The one-pass atomic backward, or null when the call needs chunking (its
 * packed accumulator, an operand or a dispatch past the limits): it exists to
 * be measured against the two-pass default, which handles every size.
 */
export function lceGradAtomic(scratch: GpuScratch, call: GradCall, filterEps: number,
                              tokenCoefficients: (t0: number, nt: number) => TensorInfo): TensorInfo[]|null {
  const {inputs: {embeddings: e, classifier: c}, bias, attrs, v} = call;
  const [n, d] = e.shape;
  const layout = attrs.classifierLayout;
  const weights = call.weightedUniform ? call.weights : undefined;
  const packedLength = n * d + v * d + v;
  const b = scratch.budget;
  const fits = [[packedLength], e.shape, c.shape, [n, TOKEN_FIELDS]].every(shape => scratch.fitsBinding(shape)) &&
      Math.ceil(v / tileCols(ATOMIC_TILE)) <= b.maxWorkgroups && Math.ceil(n / tileRows(ATOMIC_TILE)) <= b.maxWorkgroups;
  if (!fits) {
    return null;
  }
  const packed = scratch.allocate([packedLength], 'float32');
  scratch.clear(packed);
  const tokens = tokenCoefficients(0, n);
  const program = new LceGradAtomicProgram(packedLength, n, v, bias != null, attrs.softcap > 0, layout, weights != null);
  scratch.backend.runWebGPUProgram(program, [e, c, tokens, ...(bias ? [bias] : []), ...(weights ? [weights] : [])],
                                   'float32', [i32(n), i32(v), i32(d), i32(0), i32(layout === 'dv' ? v : d),
                                               f32(attrs.softcap), f32(filterEps)], packed);
  const dE = scratch.allocate([n, d], 'float32', true);
  const dC = scratch.allocate(c.shape, 'float32', true);  // the packed dC is in the classifier's layout
  scratch.copyElements(packed, 0, dE, 0, n * d);
  scratch.copyElements(packed, n * d, dC, 0, v * d);
  const outputs = [dE, dC];
  if (bias) {
    const dB = scratch.allocate([v], 'float32', true);
    scratch.copyElements(packed, n * d + v * d, dB, 0, v);
    outputs.push(dB);
  }
  scratch.release(packed);
  scratch.release(tokens);
  return outputs;
}
