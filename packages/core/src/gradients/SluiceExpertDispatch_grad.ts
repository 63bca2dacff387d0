import {engine, floorDiv, GradConfig, NamedTensorMap, ones, scalar, Tensor, Tensor1D, zeros} from '@tensorflow/tfjs-core';

import {segmentSum, useRegisteredKernel} from '../internal';

import {SluiceExpertCombine, SluiceExpertCombineInputs, SluiceExpertDispatch} from '../kernel_names';

/**
 * Rows go back to their tokens: dx[t] = Σ dDispatched[r] over the rows of
 * token t = sourceRow div k. That is exactly a combine with unit gates, so a
 * backend's combine kernel does it in O(N·k·D); without one, a segment sum
 * (a scatter-add, which webgl runs in O(rows · outputs)).
 */
export const sluiceExpertDispatchGradConfig: GradConfig = {
  kernelName: SluiceExpertDispatch,
  inputsToSave: ['x', 'expertIndices'],
  outputsToSave: [false, false, true, false],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[]) => {
    const [dDispatched] = dy as Tensor[];
    const [x, expertIndices, sourceRows] = saved;
    const [n, k] = expertIndices.shape;
    const viaCombine = () => {
      const gates = ones([n, k]);
      const inputs: SluiceExpertCombineInputs = {y: dDispatched, sourceRows, gates};
      const dx = engine().runKernel(SluiceExpertCombine, inputs as unknown as NamedTensorMap) as Tensor;
      gates.dispose();
      return dx;
    };
    return {
      // No kernel on empty tensors (webgpu rejects zero-size bindings).
      x: () => sourceRows.size === 0 ? zeros(x.shape) :
          useRegisteredKernel(SluiceExpertCombine) ? viaCombine() :
          segmentSum(dDispatched, floorDiv(sourceRows, scalar(k, 'int32')) as Tensor1D, n),
      expertIndices: () => zeros(expertIndices.shape),
    };
  },
};
