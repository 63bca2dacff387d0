/**
 * An int32 buffer set to one value (uniform `value`) over its `count`
 * elements: the −1 ("no row") that expert combine's inverse map and the
 * capacity layout's slot rows start from, one pipeline for both.
 */
import {FlatProgram} from './flat_program';
import {getMainHeaderString as main} from './internal';
import {i32} from './uniforms';
import type {ProgramUniform} from './internal';

export class FillInt32Program extends FlatProgram {
  variableNames: string[] = [];
  shaderKey = 'sluice_fillInt32';
  uniforms = 'count : i32, value : i32,';

  constructor(count: number) {
    super([count]);
  }

  getUserCode(): string {
    return `
  ${main('index')} {
    if (index < uniforms.count) {
      result[index] = uniforms.value;
    }
  }
`;
  }
}

/** FillInt32Program's uniforms, in its order. */
export function fillInt32Uniforms(count: number, value: number): ProgramUniform[] {
  return [i32(count), i32(value)];
}
