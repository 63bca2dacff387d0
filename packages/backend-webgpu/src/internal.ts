/**
 * Every deep import of tfjs-backend-webgpu internals, in one place. The
 * package entry exports `WebGPUBackend`, the `WebGPUProgram` type and
 * `webgpu_util`; the WGSL header helper that every tfjs program uses to
 * declare `main` lives only under `dist/`.
 */
export {WebGPUBackend, webgpu_util} from '@tensorflow/tfjs-backend-webgpu';
export type {WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';
export {getMainHeaderString} from '@tensorflow/tfjs-backend-webgpu/dist/webgpu_program';

/** One entry of the `uniformData` list `runWebGPUProgram` takes (the type is exported nowhere). */
export interface ProgramUniform {
  type: 'int32'|'float32'|'uint32';
  data: number[];
}
