/** Program uniforms as `runWebGPUProgram` takes them, in the order a program declares them. */
import type {ProgramUniform} from './internal';

export function i32(value: number): ProgramUniform {
  return {type: 'int32', data: [value]};
}

export function f32(value: number): ProgramUniform {
  return {type: 'float32', data: [value]};
}
