import {engine, GradConfig, NamedTensorMap, ones, Tensor, Tensor1D, Tensor2D, zeros} from '@tensorflow/tfjs-core';

import {rowsToTokens, useRegisteredKernel} from '../internal';

import {SluiceExpertCombine, SluiceExpertCombineInputs, SluiceExpertDispatch} from '../kernel_names';

/**
 * Rows go back to their tokens: dx[t] = Σ dDispatched[r] over the rows of
 * token t = sourceRow div k; empty slots (sourceRows -1) add nothing. That is
 * exactly a combine with unit gates, so a backend's combine kernel does it in
 * O(M·D); without one, a segment sum (a scatter-add, which webgl runs in
 * O(rows · outputs)).
 */
export const sluiceExpertDispatchGradConfig: GradConfig = {
  kernelName: SluiceExpertDispatch,
  inputsToSave: ['x', 'expertIndices'],
  outputsToSave: [false, false, true, false, false],
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
      x: () => sourceRows.size === 0 || n === 0 ? zeros(x.shape) :
          useRegisteredKernel(SluiceExpertCombine) ? viaCombine() :
          rowsToTokens(dDispatched as Tensor2D, sourceRows as Tensor1D, k, n),
      expertIndices: () => zeros(expertIndices.shape),
      gates: () => zeros([n, k]),
    };
  },
};
