/**
 * Every deep import of tfjs-backend-webgl internals, in one place: 4.22.0 has
 * no `exports` map, so these `dist/` paths resolve, and pinning the peer to
 * one exact version keeps them stable. Kernels import from here only.
 */
export {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
export type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
export type {UniformType} from '@tensorflow/tfjs-backend-webgl/dist/shader_compiler';
// tfjs's own packed matmul (with its fused bias), and the cheap shape kernels.
export {batchMatMulImpl} from '@tensorflow/tfjs-backend-webgl/dist/kernels/BatchMatMul_impl';
export {concat} from '@tensorflow/tfjs-backend-webgl/dist/kernels/Concat';
export {reshape} from '@tensorflow/tfjs-backend-webgl/dist/kernels/Reshape';
export {slice} from '@tensorflow/tfjs-backend-webgl/dist/kernels/Slice';
