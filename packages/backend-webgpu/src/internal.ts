/**
 * Everything this package takes from tfjs-backend-webgpu, in one place: the
 * package entry's `WebGPUBackend`, `WebGPUProgram` type and `webgpu_util`.
 * Nothing is imported from `dist/` (tfjs ships those files as ES modules
 * Node's require() cannot load, so they would be copied into the CJS and UMD
 * bundles): the one helper that lives only there, the WGSL `main` header, is
 * written here.
 */
export {WebGPUBackend, webgpu_util} from '@tensorflow/tfjs-backend-webgpu';
export type {WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';

/**
 * The declaration of a program's `main`, as tfjs-backend-webgpu's
 * `getMainHeaderString` writes it (its makeShader calls `main` from `_start`
 * with the flat index when the program takes one): `fn main()` or
 * `fn main(index : i32)`.
 */
export function getMainHeaderString(...params: string[]): string {
  if (params.length > 1) throw new Error(`getMainHeaderString: at most one parameter, got ${params.length}`);
  return params.length === 0 ? '\n        fn main()\n      ' : `\n        fn main(${params[0]} : i32)\n      `;
}

/** One entry of the `uniformData` list `runWebGPUProgram` takes (the type is exported nowhere). */
export interface ProgramUniform {
  type: 'int32'|'float32'|'uint32';
  data: number[];
}
