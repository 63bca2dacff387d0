/**
 * tfjs-webgpu picks MatMulReduceProgram (256 threads and barriers per
 * workgroup) for outputs of ≤ 128 elements, which SwiftShader runs ~100×
 * slower than the tiled program; the tiny models of the MoE suites (router
 * logits, dense layers of a few units) hit it on every step. The program
 * choice is tfjs's business, not what those suites measure: they run their
 * training loops with MatMulPackedProgram on webgpu (other backends as they are).
 */
import * as tf from '@tensorflow/tfjs-core';

export function withFastMatMul<T>(f: () => Promise<T>): Promise<T> {
  if (tf.getBackend() !== 'webgpu') {
    return f();
  }
  const saved = tf.env().get('WEBGPU_MATMUL_PROGRAM_TYPE');
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', 3);  // MatMulPackedProgram
  return f().finally(() => tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', saved));
}
