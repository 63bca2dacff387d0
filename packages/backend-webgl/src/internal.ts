/** Every deep import of tfjs-backend-webgl internals, in one place. */
export {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
export type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
export type {UniformType} from '@tensorflow/tfjs-backend-webgl/dist/shader_compiler';
