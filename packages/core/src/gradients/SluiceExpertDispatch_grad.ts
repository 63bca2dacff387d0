import {floorDiv, GradConfig, scalar, Tensor, Tensor1D, zeros} from '@tensorflow/tfjs-core';

import {SluiceExpertDispatch} from '../kernel_names';
import {segmentSum} from '../ops/segment_sum';

/** Rows go back to their tokens: dx = segment sum of dDispatched by token = sourceRow div k. */
export const sluiceExpertDispatchGradConfig: GradConfig = {
  kernelName: SluiceExpertDispatch,
  inputsToSave: ['x', 'expertIndices'],
  outputsToSave: [false, false, true, false],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[]) => {
    const [dDispatched] = dy as Tensor[];
    const [x, expertIndices, sourceRows] = saved;
    const [n, k] = expertIndices.shape;
    return {
      // No kernel on empty tensors (webgpu rejects zero-size bindings).
      x: () => sourceRows.size === 0 ? zeros(x.shape) :
                                       segmentSum(dDispatched, floorDiv(sourceRows, scalar(k, 'int32')) as Tensor1D, n),
      expertIndices: () => zeros(expertIndices.shape),
    };
  },
};
