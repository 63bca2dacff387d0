import type {TensorInfo} from '@tensorflow/tfjs-core';

import type {ProgramUniform} from '../internal';

export function i32(value: number): ProgramUniform {
  return {type: 'int32', data: [value]};
}

export function f32(value: number): ProgramUniform {
  return {type: 'float32', data: [value]};
}

/** The shape an error message names: what was attempted. */
export function lceShape(inputs: {embeddings: TensorInfo, classifier: TensorInfo}): string {
  const [n, d] = inputs.embeddings.shape;
  return `N=${n}, D=${d}, V=${inputs.classifier.shape[0]}`;
}
